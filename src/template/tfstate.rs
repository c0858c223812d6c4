//! Reading Terraform state files (format version 4) and looking up values by
//! address, in the manner of fujiwara/tfstate-lookup.

use std::path::Path;

use serde_json::{Map, Value};

/// One segment of an address: a dotted word, or a bracketed key/index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Name(String),
    Key(String),
    Index(i64),
}

#[derive(Debug)]
struct Resource {
    /// Canonical module path, e.g. `module.a["x"].module.b`, empty for the root.
    module: String,
    data: bool,
    rtype: String,
    name: String,
    instances: Vec<Instance>,
}

#[derive(Debug)]
struct Instance {
    index_key: Option<Value>,
    attributes: Value,
}

/// A loaded state.
#[derive(Debug)]
pub(crate) struct TfState {
    resources: Vec<Resource>,
    outputs: Map<String, Value>,
}

/// Why a lookup failed.
#[derive(Debug, PartialEq)]
pub(crate) enum LookupError {
    /// No resource, instance, output or attribute at that address.
    NotFound,
    /// The address itself cannot be parsed.
    BadAddress(String),
}

impl TfState {
    /// Reads and parses a state file. The error is a message without the path.
    pub(crate) fn load(path: &Path) -> Result<TfState, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if path.is_dir() {
                "it is a directory; point the tfstate plugin at the .tfstate file itself"
                    .to_string()
            } else {
                format!("{e}; check the tfstate plugin's path/url in the config")
            }
        })?;
        Self::parse(&text)
    }

    pub(crate) fn parse(text: &str) -> Result<TfState, String> {
        let root: Value = serde_json::from_str(text)
            .map_err(|e| format!("not valid JSON ({e}); is this a terraform state file?"))?;
        let Some(obj) = root.as_object() else {
            return Err("not a JSON object; is this a terraform state file?".into());
        };
        if let Some(backend) = obj.get("backend").filter(|b| !b.is_null()) {
            let kind = backend
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(format!(
                "this file points to a remote backend (type {kind}); only local state files are supported, run `terraform state pull > terraform.tfstate` and use that file"
            ));
        }
        match obj.get("version").and_then(Value::as_i64) {
            Some(4) => {}
            Some(v) => {
                return Err(format!(
                    "unsupported state format version {v}; ecsx reads version 4 (Terraform 0.12 or later), run `terraform state pull` with a recent Terraform"
                ))
            }
            None => {
                return Err(
                    "no \"version\" field; is this a terraform state file (format version 4)?"
                        .into(),
                )
            }
        }
        let outputs = match obj.get("outputs") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let mut resources = Vec::new();
        if let Some(Value::Array(list)) = obj.get("resources") {
            for r in list {
                if let Some(res) = parse_resource(r)? {
                    resources.push(res);
                }
            }
        }
        Ok(TfState { resources, outputs })
    }

    /// Looks up `address` and returns the JSON value found there.
    pub(crate) fn lookup(&self, address: &str) -> Result<Value, LookupError> {
        let segs = parse_address(address).map_err(LookupError::BadAddress)?;
        let mut i = 0;
        if matches!(segs.first(), Some(Seg::Name(n)) if n == "output") {
            let Some(Seg::Name(name)) = segs.get(1) else {
                return Err(LookupError::BadAddress(
                    "output needs a name: output.NAME".into(),
                ));
            };
            let value = self.outputs.get(name).ok_or(LookupError::NotFound)?;
            return walk(output_value(value), &segs[2..]).cloned();
        }
        let mut module = String::new();
        while matches!(segs.get(i), Some(Seg::Name(n)) if n == "module") {
            let Some(Seg::Name(m)) = segs.get(i + 1) else {
                break;
            };
            if !module.is_empty() {
                module.push('.');
            }
            module.push_str("module.");
            module.push_str(m);
            i += 2;
            match segs.get(i) {
                Some(Seg::Key(k)) => {
                    module.push_str(&format!("[{}]", serde_json::Value::from(k.as_str())));
                    i += 1;
                }
                Some(Seg::Index(n)) => {
                    module.push_str(&format!("[{n}]"));
                    i += 1;
                }
                _ => {}
            }
        }
        let data = matches!(segs.get(i), Some(Seg::Name(n)) if n == "data");
        if data {
            i += 1;
        }
        let (Some(Seg::Name(rtype)), Some(Seg::Name(name))) = (segs.get(i), segs.get(i + 1)) else {
            return Err(LookupError::BadAddress(
                "expected TYPE.NAME (e.g. aws_ecr_repository.app.repository_url), data.TYPE.NAME, module.M.TYPE.NAME or output.NAME".into(),
            ));
        };
        i += 2;
        let res = self
            .resources
            .iter()
            .find(|r| r.module == module && r.data == data && &r.rtype == rtype && &r.name == name)
            .ok_or(LookupError::NotFound)?;
        let indexed = res.instances.iter().any(|inst| inst.index_key.is_some());
        let base: Value;
        let current: &Value = match segs.get(i) {
            Some(key @ (Seg::Key(_) | Seg::Index(_))) if indexed => {
                i += 1;
                let inst = res
                    .instances
                    .iter()
                    .find(|inst| key_matches(inst.index_key.as_ref(), key))
                    .ok_or(LookupError::NotFound)?;
                &inst.attributes
            }
            _ if !indexed => match res.instances.first() {
                Some(inst) => &inst.attributes,
                None => return Err(LookupError::NotFound),
            },
            _ => {
                // No index given for a counted/for_each resource: all instances,
                // as a list (count) or an object (for_each).
                let all_int = res
                    .instances
                    .iter()
                    .all(|inst| matches!(inst.index_key, Some(Value::Number(_))));
                base = if all_int {
                    let mut list = Vec::new();
                    for inst in &res.instances {
                        let n =
                            inst.index_key.as_ref().and_then(Value::as_u64).unwrap_or(0) as usize;
                        if list.len() <= n {
                            list.resize(n + 1, Value::Null);
                        }
                        list[n] = inst.attributes.clone();
                    }
                    Value::Array(list)
                } else {
                    let mut map = Map::new();
                    for inst in &res.instances {
                        let k = match &inst.index_key {
                            Some(Value::String(s)) => s.clone(),
                            Some(v) => v.to_string(),
                            None => String::new(),
                        };
                        map.insert(k, inst.attributes.clone());
                    }
                    Value::Object(map)
                };
                &base
            }
        };
        walk(current, &segs[i..]).cloned()
    }
}

fn parse_resource(r: &Value) -> Result<Option<Resource>, String> {
    let mode = r.get("mode").and_then(Value::as_str).unwrap_or("managed");
    if mode != "managed" && mode != "data" {
        return Ok(None);
    }
    let rtype = r.get("type").and_then(Value::as_str).unwrap_or_default();
    let name = r.get("name").and_then(Value::as_str).unwrap_or_default();
    let module = match r.get("module").and_then(Value::as_str) {
        None | Some("") => String::new(),
        Some(m) => canonical_module(m)
            .map_err(|e| format!("resource {rtype}.{name} has a bad module path {m:?}: {e}"))?,
    };
    let remote_state = mode == "data" && rtype == "terraform_remote_state";
    let mut instances = Vec::new();
    if let Some(Value::Array(list)) = r.get("instances") {
        for inst in list {
            let index_key = inst.get("index_key").filter(|v| !v.is_null()).cloned();
            let mut attributes = match inst.get("attributes").filter(|v| !v.is_null()) {
                Some(a) => a.clone(),
                None => inst.get("attributes_flat").cloned().unwrap_or(Value::Null),
            };
            if remote_state {
                if let Value::Object(m) = &mut attributes {
                    for v in m.values_mut() {
                        let unwrapped = output_value(v).clone();
                        *v = unwrapped;
                    }
                }
            }
            instances.push(Instance {
                index_key,
                attributes,
            });
        }
    }
    Ok(Some(Resource {
        module,
        data: mode == "data",
        rtype: rtype.to_string(),
        name: name.to_string(),
        instances,
    }))
}

/// Normalises a module path as written in the state (`module.a["x"].module.b`).
fn canonical_module(m: &str) -> Result<String, String> {
    let segs = parse_address(m)?;
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Name(n) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&n);
            }
            Seg::Key(k) => out.push_str(&format!("[{}]", Value::from(k))),
            Seg::Index(n) => out.push_str(&format!("[{n}]")),
        }
    }
    Ok(out)
}

/// An output is stored as `{"value": ..., "type": ...}`.
fn output_value(v: &Value) -> &Value {
    match v {
        Value::Object(m) if m.contains_key("value") && m.contains_key("type") => &m["value"],
        _ => v,
    }
}

fn key_matches(key: Option<&Value>, seg: &Seg) -> bool {
    match (key, seg) {
        (Some(Value::Number(n)), Seg::Index(i)) => n.as_i64() == Some(*i),
        (Some(Value::String(s)), Seg::Key(k)) => s == k,
        (Some(Value::String(s)), Seg::Index(i)) => *s == i.to_string(),
        (Some(Value::Number(n)), Seg::Key(k)) => n.to_string() == *k,
        _ => false,
    }
}

fn walk<'a>(mut v: &'a Value, segs: &[Seg]) -> Result<&'a Value, LookupError> {
    for seg in segs {
        v = match (v, seg) {
            (Value::Object(m), Seg::Name(k) | Seg::Key(k)) => m.get(k),
            (Value::Object(m), Seg::Index(i)) => m.get(&i.to_string()),
            (Value::Array(a), Seg::Index(i)) => usize::try_from(*i).ok().and_then(|i| a.get(i)),
            (Value::Array(a), Seg::Name(k) | Seg::Key(k)) => {
                k.parse::<usize>().ok().and_then(|i| a.get(i))
            }
            _ => None,
        }
        .ok_or(LookupError::NotFound)?;
    }
    Ok(v)
}

/// Splits an address into segments: `a.b["k"][0].c` gives Name a, Name b,
/// Key k, Index 0, Name c. Single quotes are accepted like double quotes.
pub(crate) fn parse_address(s: &str) -> Result<Vec<Seg>, String> {
    let chars: Vec<char> = s.trim().chars().collect();
    if chars.is_empty() {
        return Err("empty address".into());
    }
    let mut segs = Vec::new();
    let mut i = 0;
    let mut expect_word = true;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                i += 1;
                let seg = match chars.get(i) {
                    Some(&q @ ('"' | '\'')) => {
                        i += 1;
                        let mut key = String::new();
                        loop {
                            match chars.get(i) {
                                None => return Err(format!("unterminated string in {s:?}")),
                                Some('\\') if chars.get(i + 1).is_some() => {
                                    key.push(chars[i + 1]);
                                    i += 2;
                                }
                                Some(&c) if c == q => {
                                    i += 1;
                                    break;
                                }
                                Some(&c) => {
                                    key.push(c);
                                    i += 1;
                                }
                            }
                        }
                        Seg::Key(key)
                    }
                    _ => {
                        let start = i;
                        while i < chars.len() && chars[i] != ']' {
                            i += 1;
                        }
                        let raw: String = chars[start..i].iter().collect();
                        let raw = raw.trim();
                        if raw.is_empty() {
                            return Err(format!("empty [] in {s:?}"));
                        }
                        match raw.parse::<i64>() {
                            Ok(n) => Seg::Index(n),
                            Err(_) => Seg::Key(raw.to_string()),
                        }
                    }
                };
                if chars.get(i) != Some(&']') {
                    return Err(format!("missing ] in {s:?}"));
                }
                i += 1;
                segs.push(seg);
                expect_word = false;
            }
            '.' => {
                if expect_word {
                    return Err(format!("empty name in {s:?}"));
                }
                i += 1;
                expect_word = true;
            }
            _ => {
                if !expect_word {
                    return Err(format!("expected . or [ after ] in {s:?}"));
                }
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                segs.push(Seg::Name(chars[start..i].iter().collect()));
                expect_word = false;
            }
        }
    }
    if expect_word {
        return Err(format!("address ends with . in {s:?}"));
    }
    Ok(segs)
}

/// Text for a looked-up value: strings as is, null as empty, numbers and
/// booleans as text, lists and objects as compact JSON with sorted keys (as
/// Go's encoding/json writes them).
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => {
            let mut out = String::new();
            compact_json(v, &mut out);
            out
        }
    }
}

fn compact_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (n, k) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push('"');
                super::json_escape_into(k, out);
                out.push_str("\":");
                compact_json(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (n, item) in a.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                compact_json(item, out);
            }
            out.push(']');
        }
        Value::String(s) => {
            out.push('"');
            super::json_escape_into(s, out);
            out.push('"');
        }
        other => out.push_str(&other.to_string()),
    }
}
