use super::*;
use std::sync::Mutex;

const FILE: &str = "ecs-task-def.json";

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/templates")
}

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn basic(pairs: &[(&str, &str)]) -> Renderer {
    Renderer::basic().with_env(vars(pairs))
}

fn tfstate_plugin(prefix: &str, config: Value) -> Plugin {
    Plugin {
        name: "tfstate".into(),
        config,
        func_prefix: prefix.into(),
    }
}

fn with_state(pairs: &[(&str, &str)]) -> Renderer {
    let p = tfstate_plugin("", serde_json::json!({"path": "terraform.tfstate"}));
    Renderer::with_plugins(&[p], &testdata())
        .unwrap()
        .with_env(vars(pairs))
}

fn render(r: &Renderer, src: &str) -> Result<String, TemplateError> {
    r.render(Path::new(FILE), src)
}

fn ok(r: &Renderer, src: &str) -> String {
    match render(r, src) {
        Ok(s) => s,
        Err(e) => panic!("render of {src:?} failed: {e}"),
    }
}

fn err(r: &Renderer, src: &str) -> TemplateError {
    match render(r, src) {
        Ok(s) => panic!("render of {src:?} should fail, got {s:?}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- env

#[test]
fn go_env_with_fallbacks() {
    let r = basic(&[("TAG", "v1"), ("EMPTY", ""), ("B", "bee")]);
    assert_eq!(ok(&r, "{{ env `TAG` `latest` }}"), "v1");
    assert_eq!(ok(&r, "{{ env `NOPE` `latest` }}"), "latest");
    assert_eq!(ok(&r, "{{ env `EMPTY` `latest` }}"), "latest");
    assert_eq!(ok(&r, "{{ env `TAG` }}"), "v1");
    // As ecspresso: the last argument is the literal fallback, so a lone
    // unset name gives itself; an explicit empty fallback gives "".
    assert_eq!(ok(&r, "{{ env `NOPE` }}"), "NOPE");
    assert_eq!(ok(&r, "{{ env `NOPE` `` }}"), "");
    assert_eq!(ok(&r, r#"{{ env "A" "B" "fallback" }}"#), "bee");
    assert_eq!(ok(&r, r#"{{ env "A" "C" "fallback" }}"#), "fallback");
    assert_eq!(ok(&r, r#"{{ env "TAG" "B" "fallback" }}"#), "v1");
    assert_eq!(
        ok(&r, "image: nginx:{{ env `TAG` `latest` }}\n"),
        "image: nginx:v1\n"
    );
}

#[test]
fn go_double_quoted_strings_use_go_escapes() {
    let r = basic(&[]);
    assert_eq!(
        ok(&r, r#"{{ env "NOPE" "a\"b\tc\nd\\e\u00e9\x41" }}"#),
        "a\"b\tc\nd\\eéA"
    );
    assert_eq!(ok(&r, r#"{{ "x\ny" }}"#), "x\ny");
    // Backticks are raw.
    assert_eq!(ok(&r, r"{{ env `NOPE` `a\nb` }}"), "a\\nb");
}

#[test]
fn must_env_set_empty_and_missing() {
    let r = basic(&[("TAG", "v1"), ("EMPTY", "")]);
    assert_eq!(ok(&r, "{{ must_env `TAG` }}"), "v1");
    assert_eq!(ok(&r, "[{{ must_env `EMPTY` }}]"), "[]");
    assert_eq!(ok(&r, "{{ must_env(name=\"TAG\") }}"), "v1");
    let e = err(
        &r,
        "{\n  \"a\": 1,\n\n\n\n\n  \"image\": \"x:{{ must_env `TAG2` }}\"\n}",
    );
    assert!(matches!(&e, TemplateError::MissingEnv { name, line: 7, .. } if name == "TAG2"));
    assert_eq!(
        e.to_string(),
        "ecs-task-def.json:7: environment variable TAG2 is not set (must_env); export TAG2 or use env with a default"
    );
    let e = err(&r, "a\nb\n{{ must_env(name=\"NOPE\") }}");
    assert!(
        matches!(e, TemplateError::MissingEnv { line: 3, .. }),
        "{e:?}"
    );
}

#[test]
fn tera_env_and_must_env() {
    let r = basic(&[("TAG", "v1"), ("EMPTY", ""), ("B", "bee")]);
    assert_eq!(ok(&r, r#"{{ env(name="TAG", default="latest") }}"#), "v1");
    assert_eq!(
        ok(&r, r#"{{ env(name="NOPE", default="latest") }}"#),
        "latest"
    );
    assert_eq!(
        ok(&r, r#"{{ env(name="EMPTY", default="latest") }}"#),
        "latest"
    );
    assert_eq!(ok(&r, r#"[{{ env(name="NOPE") }}]"#), "[]");
    assert_eq!(ok(&r, r#"{{ env(name=["A", "B"], default="x") }}"#), "bee");
    assert_eq!(
        ok(
            &r,
            r#"{% if env(name="TAG") == "v1" %}yes{% else %}no{% endif %}"#
        ),
        "yes"
    );
    assert_eq!(
        ok(
            &r,
            r#"{% set t = env(name="TAG") %}{{ t }}-{{ t | upper }}"#
        ),
        "v1-V1"
    );
    let e = err(&r, "\n{{ env(nam=\"TAG\") }}");
    assert!(
        matches!(&e, TemplateError::Render { line: Some(2), message, .. } if message.contains("unknown argument `nam`")),
        "{e}"
    );
    let e = err(&r, "{{ must_env() }}");
    assert!(e.to_string().contains("missing argument `name`"), "{e}");
}

// ---------------------------------------------------------------- json_escape

#[test]
fn json_escape_matches_go() {
    let value = "say \"hi\"\n\t<a href='x'>&</a> \\ é \u{1} \u{2028}";
    let r = basic(&[("JSON", value)]);
    let want = r#"say \"hi\"\n\t\u003ca href='x'\u003e\u0026\u003c/a\u003e \\ é \u0001 \u2028"#;
    assert_eq!(ok(&r, "{{ env `JSON` | json_escape }}"), want);
    assert_eq!(ok(&r, "{{ json_escape (env `JSON`) }}"), want);
    assert_eq!(ok(&r, r#"{{ env(name="JSON") | json_escape }}"#), want);
    // The escaped text is a valid JSON string body.
    let parsed: String = serde_json::from_str(&format!("\"{want}\"")).unwrap();
    assert_eq!(parsed, value);
}

#[test]
fn no_html_autoescaping() {
    let r = basic(&[("H", "<a href=\"x\">&'</a>")]);
    assert_eq!(ok(&r, "{{ env `H` }}"), "<a href=\"x\">&'</a>");
    assert_eq!(ok(&r, r#"{{ env(name="H") }}"#), "<a href=\"x\">&'</a>");
    let out = r.render(Path::new("page.html"), "{{ env `H` }}").unwrap();
    assert_eq!(out, "<a href=\"x\">&'</a>");
}

// ---------------------------------------------------------------- control flow

#[test]
fn go_if_else_chains() {
    let t = "{{ if (env `TFSTATE_BUCKET` ``) }}bucket={{ env `TFSTATE_BUCKET` }}{{ else }}local{{ end }}";
    assert_eq!(ok(&basic(&[]), t), "local");
    assert_eq!(ok(&basic(&[("TFSTATE_BUCKET", "b1")]), t), "bucket=b1");
    let t = "{{ if eq (env `ENV` ``) `prod` }}P{{ else if eq (env `ENV` ``) `stg` `dev` }}S{{ else }}X{{ end }}";
    assert_eq!(ok(&basic(&[("ENV", "prod")]), t), "P");
    assert_eq!(ok(&basic(&[("ENV", "dev")]), t), "S");
    assert_eq!(ok(&basic(&[]), t), "X");
    let t = "{{ if must_env `X` }}set{{ end }}";
    assert_eq!(ok(&basic(&[("X", "1")]), t), "set");
    assert_eq!(ok(&basic(&[("X", "")]), t), "");
    assert!(matches!(
        err(&basic(&[]), t),
        TemplateError::MissingEnv { .. }
    ));
    // Nested, with not/and/or/ne.
    let t = "{{ if not (env `A` ``) }}{{ if or (env `B` ``) (env `C` ``) }}bc{{ end }}{{ end }}\
             {{ if and (env `B` ``) (ne (env `C` ``) `c`) }}!{{ end }}";
    assert_eq!(ok(&basic(&[("B", "b")]), t), "bc!");
    assert_eq!(ok(&basic(&[("C", "c")]), t), "bc");
    assert_eq!(ok(&basic(&[("A", "a"), ("B", "b")]), t), "!");
}

#[test]
fn and_or_short_circuit() {
    let r = basic(&[]);
    // must_env is not evaluated once `and` knows the answer.
    assert_eq!(ok(&r, "[{{ and (env `A` ``) (must_env `NOPE`) }}]"), "[]");
    assert_eq!(ok(&r, "{{ or `x` (must_env `NOPE`) }}"), "x");
}

#[test]
fn trim_markers() {
    let r = basic(&[("A", "a")]);
    assert_eq!(ok(&r, "x  \n  {{- env `A` -}}  \n  y"), "xay");
    assert_eq!(
        ok(&r, "[\n  1,\n  {{- if env `A` }}\n  2\n  {{- end }}\n]"),
        "[\n  1,\n  2\n]"
    );
    assert_eq!(ok(&r, "a {{- /* note */ -}} b"), "ab");
    assert_eq!(ok(&r, "a {{- env(name=\"A\") -}} b"), "aab");
}

#[test]
fn comments_keep_line_numbers() {
    let r = basic(&[]);
    assert_eq!(ok(&r, "a{{/* one\ntwo */}}b"), "ab");
    let e = err(&r, "{{/* a\nmulti-line\ncomment */}}\n{{ must_env `X` }}");
    assert!(
        matches!(e, TemplateError::MissingEnv { line: 4, .. }),
        "{e:?}"
    );
    // Tera comments pass through.
    assert_eq!(ok(&r, "a{# tera #}b"), "ab");
}

#[test]
fn go_printf_and_pipelines() {
    let r = basic(&[("APP", "web")]);
    assert_eq!(
        ok(&r, "{{ printf `%s-%d-%v%%` (env `APP`) 3 true }}"),
        "web-3-true%"
    );
    assert_eq!(ok(&r, "{{ env `APP` | printf `%s/%s` `svc` }}"), "svc/web");
    assert_eq!(ok(&r, "{{ (env `APP`) }}"), "web");
    assert_eq!(ok(&r, "{{ 42 }} {{ true }}"), "42 true");
}

// ---------------------------------------------------------------- text handling

#[test]
fn literal_braces_and_raw() {
    let r = basic(&[("A", "a")]);
    assert_eq!(
        ok(&r, "echo ${#HOME} {% literal %} {{ env `A` }}"),
        "echo ${#HOME} {% literal %} a"
    );
    assert_eq!(ok(&r, "{# not closed {{ env `A` }}"), "{# not closed a");
    assert_eq!(
        ok(&r, "{% raw %}{{ env `A` }}{% endraw %}"),
        "{{ env `A` }}"
    );
    assert_eq!(ok(&r, "{\"a\": {\"b\": 1}}"), "{\"a\": {\"b\": 1}}");
    assert_eq!(ok(&r, "no tags\n\n"), "no tags\n\n");
    assert_eq!(ok(&r, "{{ env `A` }}\n"), "a\n");
}

#[test]
fn mixed_go_and_tera() {
    let r = basic(&[("A", "a"), ("B", "b")]);
    let src = "{{ env `A` }}-{{ env(name=\"B\") }}\n{% for i in [1, 2] %}{{ i }}{{ env `A` }}{% endfor %}";
    assert_eq!(ok(&r, src), "a-b\n1a2a");
}

#[test]
fn translation_keeps_lines() {
    let funcs = Funcs::new(&["".to_string()]);
    let src = "a {{ env `A`\n `B` }}\n{{- if (env `X` ``)\n -}}\n{{/* c\n\n */}}{{ end }}\n{{ must_env(\nname=\"Z\") }}\nend";
    let t = gotemplate::translate(src, &funcs, Path::new(FILE)).unwrap();
    assert_eq!(t.text.lines().count(), src.lines().count(), "{}", t.text);
    assert_eq!(t.text.matches('\n').count(), src.matches('\n').count());
    assert!(t.text.contains("must_env(__line=8,"), "{}", t.text);
}

// ---------------------------------------------------------------- tfstate

#[test]
fn tfstate_addresses() {
    let r = with_state(&[]);
    let cases = [
        (
            "aws_ecr_repository.app.repository_url",
            "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app",
        ),
        ("aws_subnet.private[1].id", "subnet-0bbb2222"),
        ("aws_subnet.private[0].cidr_block", "10.0.1.0/24"),
        (
            "aws_ecr_repository.all['worker'].repository_url",
            "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/worker",
        ),
        ("aws_ecr_repository.all[\"app\"].name", "app"),
        ("data.aws_security_group.default.id", "sg-0123abcd"),
        (
            "module.network.aws_lb.main.dns_name",
            "main-1234567890.ap-northeast-1.elb.amazonaws.com",
        ),
        (
            "module.platform.module.logs.aws_s3_bucket.logs.bucket",
            "example-logs-123456789012",
        ),
        ("module.svc[0].aws_ecs_service.this.name", "app"),
        (
            "module.queue[\"prod\"].data.aws_sqs_queue.q.arn",
            "arn:aws:sqs:ap-northeast-1:123456789012:prod-jobs",
        ),
        (
            "module.queue['prod'].data.aws_sqs_queue.q.arn",
            "arn:aws:sqs:ap-northeast-1:123456789012:prod-jobs",
        ),
        (
            "aws_ecr_repository.app.image_scanning_configuration.0.scan_on_push",
            "true",
        ),
        (
            "aws_ecr_repository.app.image_scanning_configuration[0].scan_on_push",
            "true",
        ),
        (
            "aws_ecr_repository.app.encryption_configuration[0].encryption_type",
            "AES256",
        ),
        ("aws_ecr_repository.app.tags.Name", "app"),
        ("aws_ecr_repository.app.tags[\"kubernetes.io/role\"]", "web"),
        ("aws_ecr_repository.app.force_delete", ""),
        ("aws_iam_role.role['app'].max_session_duration", "3600"),
        ("module.network.aws_lb.main.internal", "false"),
        (
            "aws_ecr_repository.app.tags",
            r#"{"Name":"app","kubernetes.io/role":"web"}"#,
        ),
        (
            "aws_ecr_repository.app.image_scanning_configuration",
            r#"[{"scan_on_push":true}]"#,
        ),
        ("aws_subnet.private.1.id", "subnet-0bbb2222"),
        ("aws_ecr_repository.all.worker.name", "worker"),
        ("output.vpc_id", "vpc-0a1b2c3d4e5f67890"),
        (
            "output.private_subnet_ids",
            r#"["subnet-0aaa1111","subnet-0bbb2222"]"#,
        ),
        ("output.private_subnet_ids[1]", "subnet-0bbb2222"),
        (
            "output.service_config",
            r#"{"name":"app","port":8080,"public":false}"#,
        ),
        ("output.service_config.port", "8080"),
        ("output.desired_count", "3"),
        (
            "data.terraform_remote_state.base.outputs.cluster_name",
            "main",
        ),
    ];
    for (address, want) in cases {
        assert_eq!(
            ok(&r, &format!("{{{{ tfstate `{address}` }}}}")),
            want,
            "Go form: {address}"
        );
        let tera = format!(
            "{{{{ tfstate(address='{}') }}}}",
            address.replace('\'', "\"")
        );
        assert_eq!(ok(&r, &tera), want, "Tera form: {address}");
    }
}

#[test]
fn tfstate_in_task_definition_line() {
    let r = with_state(&[("TAG", "v1.2.3")]);
    let src =
        r#""image": "{{ tfstate `aws_ecr_repository.app.repository_url` }}:{{ must_env `TAG` }}""#;
    assert_eq!(
        ok(&r, src),
        r#""image": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:v1.2.3""#
    );
}

#[test]
fn tfstatef_formats() {
    let r = with_state(&[("APP", "worker")]);
    assert_eq!(
        ok(&r, "{{ tfstatef `aws_iam_role.role['%s'].arn` `app` }}"),
        "arn:aws:iam::123456789012:role/app-task"
    );
    assert_eq!(
        ok(
            &r,
            "{{ tfstatef `aws_iam_role.role['%s'].arn` (env `APP`) }}"
        ),
        "arn:aws:iam::123456789012:role/worker-task"
    );
    assert_eq!(
        ok(&r, "{{ tfstatef `aws_subnet.private[%d].id` 1 }}"),
        "subnet-0bbb2222"
    );
    assert_eq!(
        ok(&r, "{{ tfstatef `aws_iam_role.role[%q].name` `app` }}"),
        "app-task"
    );
    assert_eq!(
        ok(
            &r,
            r#"{{ tfstatef(format="aws_iam_role.role['%s'].arn", args=["worker"]) }}"#
        ),
        "arn:aws:iam::123456789012:role/worker-task"
    );
    assert_eq!(
        ok(
            &r,
            r#"{{ tfstatef(format="aws_subnet.private[%d].id", args=[0]) }}"#
        ),
        "subnet-0aaa1111"
    );
    let e = err(&r, "\n{{ tfstatef `aws_iam_role.role['%s'].%s` `app` }}");
    assert!(
        matches!(&e, TemplateError::Render { line: Some(2), message, .. } if message.contains("more verbs")),
        "{e}"
    );
}

#[test]
fn tfstate_not_found() {
    let r = with_state(&[]);
    let src = "{\n\n\n\n\n\n\n\n  \"image\": \"{{ tfstate `aws_ecr_repository.nope.repository_url` }}\"\n}";
    let e = err(&r, src);
    let state = testdata().join("terraform.tfstate");
    assert_eq!(
        e.to_string(),
        format!(
            "ecs-task-def.json:9: tfstate address aws_ecr_repository.nope.repository_url not found in {}; run terraform state list to see addresses",
            state.display()
        )
    );
    for address in [
        "aws_ecr_repository.app.nope",
        "aws_subnet.private[5].id",
        "aws_ecr_repository.all['nope'].name",
        "data.aws_ecr_repository.app.repository_url",
        "module.other.aws_lb.main.dns_name",
        "output.nope",
        "aws_ecr_repository.app.tags.Name.deeper",
    ] {
        let e = err(&r, &format!("{{{{ tfstate `{address}` }}}}"));
        assert!(
            matches!(&e, TemplateError::TfstateNotFound { address: a, line: 1, .. } if a == address),
            "{address}: {e:?}"
        );
    }
    let e = err(
        &r,
        "x\n{{ tfstate(address=\"aws_ecr_repository.nope.id\") }}",
    );
    assert!(
        matches!(e, TemplateError::TfstateNotFound { line: 2, .. }),
        "{e:?}"
    );
    let e = err(&r, "{{ tfstate `aws_ecr_repository..x` }}");
    assert!(e.to_string().contains("bad tfstate address"), "{e}");
}

#[test]
fn plugin_prefixes_coexist() {
    let plugins = [
        tfstate_plugin("", serde_json::json!({"path": "terraform.tfstate"})),
        tfstate_plugin("other_", serde_json::json!({"url": "other.tfstate"})),
    ];
    let r = Renderer::with_plugins(&plugins, &testdata()).unwrap();
    assert_eq!(
        ok(&r, "{{ tfstate `aws_ecr_repository.app.repository_url` }} {{ other_tfstate `aws_ecr_repository.app.repository_url` }}"),
        "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app 999999999999.dkr.ecr.us-east-1.amazonaws.com/other"
    );
    assert_eq!(
        ok(
            &r,
            r#"{{ other_tfstatef(format="output.%s", args="queue_url") }}"#
        ),
        "https://sqs.ap-northeast-1.amazonaws.com/123456789012/other"
    );
    let only_prefixed = Renderer::with_plugins(&plugins[1..], &testdata()).unwrap();
    let e = err(&only_prefixed, "{{ tfstate `output.queue_url` }}");
    assert_eq!(
        e.to_string(),
        "ecs-task-def.json:1: unknown template function \"tfstate\"; available: env, must_env, json_escape, ssm, secretsmanager_arn, secretsmanager_arnf, other_tfstate, other_tfstatef"
    );
    let dup = [plugins[1].clone(), plugins[1].clone()];
    let e = Renderer::with_plugins(&dup, &testdata()).unwrap_err();
    assert!(
        matches!(&e, TemplateError::PluginConfig { message, .. } if message.contains("other_tfstate already exists")),
        "{e}"
    );
    let bad = tfstate_plugin("tf-", serde_json::json!({"path": "x"}));
    assert!(matches!(
        Renderer::with_plugins(&[bad], &testdata()),
        Err(TemplateError::PluginConfig { .. })
    ));
}

#[test]
fn unknown_plugins_warn() {
    let plugins = [
        Plugin {
            name: "cloudformation".into(),
            config: Value::Null,
            func_prefix: String::new(),
        },
        tfstate_plugin("", serde_json::json!({"path": "terraform.tfstate"})),
    ];
    let r = Renderer::with_plugins(&plugins, &testdata()).unwrap();
    assert_eq!(r.warnings().len(), 1);
    assert!(
        r.warnings()[0].contains("\"cloudformation\" is not supported"),
        "{:?}",
        r.warnings()
    );
    assert_eq!(
        ok(&r, "{{ tfstate `output.vpc_id` }}"),
        "vpc-0a1b2c3d4e5f67890"
    );
    let e = err(&r, "{{ cfn_output `stack` `Key` }}");
    assert!(
        matches!(e, TemplateError::UnsupportedFunction { .. }),
        "{e:?}"
    );
    assert!(with_state(&[]).warnings().is_empty());
}

#[test]
fn state_locations() {
    let dir = testdata();
    let load = |config: Value| Renderer::with_plugins(&[tfstate_plugin("", config)], &dir);
    let abs = dir.join("terraform.tfstate");
    for config in [
        serde_json::json!({"url": format!("file://{}", abs.display())}),
        serde_json::json!({"url": "terraform.tfstate"}),
        serde_json::json!({"path": abs.display().to_string()}),
    ] {
        let r = load(config.clone()).unwrap();
        assert_eq!(
            ok(&r, "{{ tfstate `output.vpc_id` }}"),
            "vpc-0a1b2c3d4e5f67890",
            "{config}"
        );
    }
    for url in [
        "https://example.com/x.tfstate",
        "remote://app.terraform.io/org/ws",
        "gs://b/k",
        "azurerm://container/key",
    ] {
        let e = load(serde_json::json!({ "url": url })).unwrap_err();
        assert!(
            matches!(&e, TemplateError::UnsupportedStateLocation { location } if location == url),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("local state files")
                && e.to_string().contains("s3://BUCKET/KEY"),
            "{e}"
        );
    }
    // S3 is read through the renderer's remote, on first use.
    let r = load(serde_json::json!({"url": "s3://states/app.tfstate"}))
        .unwrap()
        .with_remote(Arc::new(FakeRemote::default()));
    assert_eq!(ok(&r, "{{ tfstate `output.vpc_id` }}"), "vpc-from-s3");
    let e = err(&r, "{{ tfstate `output.nope` }}");
    assert!(e.to_string().contains("s3://states/app.tfstate"), "{e}");
    for bad in ["s3://bucket", "s3:///key"] {
        let e = load(serde_json::json!({ "url": bad })).unwrap_err();
        assert!(e.to_string().contains("s3://BUCKET/KEY"), "{e}");
    }
    let r = load(serde_json::json!({"url": "s3://states/missing.tfstate"}))
        .unwrap()
        .with_remote(Arc::new(FakeRemote::default()));
    let e = err(&r, "{{ tfstate `output.vpc_id` }}");
    assert!(
        e.to_string().contains("s3://states/missing.tfstate")
            && e.to_string().contains("NoSuchKey"),
        "{e}"
    );
    let e = load(serde_json::json!({})).unwrap_err();
    assert!(e.to_string().contains("requires config path:"), "{e}");
    let e = load(serde_json::json!({"path": 3})).unwrap_err();
    assert!(e.to_string().contains("must be a string"), "{e}");
}

#[test]
fn state_load_errors_are_lazy_and_clear() {
    let dir = testdata();
    let load = |path: &str| {
        Renderer::with_plugins(
            &[tfstate_plugin("", serde_json::json!({ "path": path }))],
            &dir,
        )
        .unwrap()
    };
    let cases = [
        ("terraform-v3.tfstate", "unsupported state format version 3"),
        ("backend.tfstate", "remote backend (type s3)"),
        ("missing.tfstate", "check the tfstate plugin's path/url"),
        ("ecs-task-def.json", "not valid JSON"),
    ];
    for (path, want) in cases {
        let r = load(path);
        // Nothing is read until a tfstate function is called.
        assert_eq!(ok(&r, "plain {{ env `X` `` }}"), "plain ");
        let e = err(&r, "{{ tfstate `output.vpc_id` }}");
        assert!(
            matches!(&e, TemplateError::TfstateLoad { location: p, .. } if *p == dir.join(path).display().to_string()),
            "{e:?}"
        );
        assert!(e.to_string().contains(want), "{path}: {e}");
        assert!(
            e.to_string().starts_with("cannot load terraform state "),
            "{e}"
        );
    }
}

// ---------------------------------------------------------------- errors

#[test]
fn basic_has_no_tfstate() {
    let e = err(&basic(&[]), "a\n{{ tfstate `aws_x.y.z` }}");
    assert_eq!(
        e.to_string(),
        "ecs-task-def.json:2: unknown template function \"tfstate\"; available: env, must_env, json_escape, ssm, secretsmanager_arn, secretsmanager_arnf"
    );
}

#[test]
fn unknown_functions() {
    let r = with_state(&[]);
    let e = err(&r, "1\n2\n3\n4\n\"x\": \"{{ foo `bar` }}\"");
    assert_eq!(
        e.to_string(),
        "ecs-task-def.json:5: unknown template function \"foo\"; available: env, must_env, json_escape, ssm, secretsmanager_arn, secretsmanager_arnf, tfstate, tfstatef"
    );
    let e = err(&r, "1\n{{ foo(x=1) }}");
    assert!(
        matches!(&e, TemplateError::UnknownFunction { name, line: 2, .. } if name == "foo"),
        "{e:?}"
    );
    let e = err(&r, "{{ env `A` | nope }}");
    assert!(
        matches!(&e, TemplateError::UnknownFunction { name, .. } if name == "nope"),
        "{e:?}"
    );
}

/// Parameters, secrets and S3 objects in memory; counts calls.
#[derive(Default)]
struct FakeRemote {
    calls: Mutex<Vec<String>>,
}

impl Remote for FakeRemote {
    fn ssm_parameter(&self, name: &str) -> Result<(String, String), String> {
        self.calls.lock().unwrap().push(format!("ssm {name}"));
        match name {
            "/app/tag" => Ok(("String".into(), "1.2.3".into())),
            "/app/secret" => Ok(("SecureString".into(), "pa$$".into())),
            "/app/hosts" => Ok(("StringList".into(), "a,b,c".into())),
            _ => Err("GetParameter failed: ParameterNotFound: ".into()),
        }
    }
    fn secret_arn(&self, id: &str) -> Result<String, String> {
        self.calls.lock().unwrap().push(format!("secret {id}"));
        match id {
            "app/db" => Ok("arn:aws:secretsmanager:us-east-1:1:secret:app/db-AbCdEf".into()),
            _ => Err("DescribeSecret failed: ResourceNotFoundException: no".into()),
        }
    }
    fn s3_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
        match (bucket, key) {
            ("states", "app.tfstate") => Ok(br#"{"version": 4, "outputs": {"vpc_id": {"value": "vpc-from-s3", "type": "string"}}}"#.to_vec()),
            _ => Err("S3 GetObject failed: NoSuchKey: The specified key does not exist.".into()),
        }
    }
}

#[test]
fn ssm_and_secretsmanager_arn_go_through_the_remote() {
    let remote = Arc::new(FakeRemote::default());
    let r = basic(&[]).with_remote(remote.clone());
    assert_eq!(
        ok(&r, "{{ ssm `/app/tag` }}|{{ ssm \"/app/secret\" }}"),
        "1.2.3|pa$$"
    );
    assert_eq!(ok(&r, "{{ ssm `/app/hosts` 2 }}"), "c");
    assert_eq!(ok(&r, "{{ ssm(name=\"/app/hosts\", index=0) }}"), "a");
    assert_eq!(
        ok(&r, "{{ secretsmanager_arn `app/db` }}"),
        "arn:aws:secretsmanager:us-east-1:1:secret:app/db-AbCdEf"
    );
    assert_eq!(
        ok(&r, "{{ secretsmanager_arnf `app/%s` `db` }}"),
        "arn:aws:secretsmanager:us-east-1:1:secret:app/db-AbCdEf"
    );
    assert_eq!(ok(&r, "{{ secretsmanager_arn(id=\"app/db\") }}").len(), 55);
    // Only called when the template gets there.
    assert_eq!(ok(&r, "{{ if false }}{{ ssm `/nope` }}{{ end }}ok"), "ok");
    assert!(!remote
        .calls
        .lock()
        .unwrap()
        .iter()
        .any(|c| c.contains("nope")));

    let cases: &[(&str, usize, &str)] = &[
        ("x\n{{ ssm `/missing` }}", 2, "ParameterNotFound"),
        ("{{ ssm `/app/hosts` }}", 1, "StringList; give the index"),
        ("{{ ssm `/app/hosts` 3 }}", 1, "out of range"),
        ("{{ ssm `/app/tag` 0 }}", 1, "only for StringList"),
        (
            "\n\n{{ secretsmanager_arn `nope` }}",
            3,
            "ResourceNotFoundException",
        ),
        ("{{ ssm `/a` 1 2 }}", 1, "want 1 or 2"),
    ];
    for (src, line, want) in cases {
        let e = err(&r, src);
        assert!(
            matches!(&e, TemplateError::Render { line: Some(l), .. } if l == line),
            "{src}: {e:?}"
        );
        assert!(e.to_string().contains(want), "{src}: {e}");
        assert!(e.to_string().starts_with(FILE), "{e}");
    }
    // Without a remote (the config file itself): a clear error.
    let e = err(&basic(&[]), "{{ ssm `/app/tag` }}");
    assert!(e.to_string().contains("not available here"), "{e}");
}

#[test]
fn go_syntax_errors() {
    let r = basic(&[]);
    let cases: &[(&str, usize, Option<usize>, &str)] = &[
        (
            "a\nb\n  \"x\": \"{{ env \"A }}\n}",
            3,
            Some(16),
            "unterminated quoted string",
        ),
        ("  \"x\": \"{{ env \"A }}\"", 1, Some(9), "unclosed action"),
        ("{{ (env `A` }}", 1, Some(4), "unclosed left parenthesis"),
        ("x\n{{ end }}", 2, Some(4), "{{ end }} without {{ if }}"),
        ("\n{{ if env `A` }}\nno end", 2, None, "never closed"),
        ("{{ else }}", 1, Some(4), "{{ else }} without {{ if }}"),
        (
            "{{ if }}x{{ end }}",
            1,
            Some(4),
            "missing condition after if",
        ),
        ("{{ env `A` | }}", 1, Some(12), "missing command after |"),
        ("{{ env `A` }", 1, Some(1), "unclosed action"),
        ("{{ env `A` ^ }}", 1, Some(12), "unexpected '^'"),
        ("{{/* never closed }}", 1, Some(1), "unclosed comment"),
    ];
    for &(src, line, column, text) in cases {
        let e = err(&r, src);
        match &e {
            TemplateError::Syntax {
                line: l,
                column: c,
                message,
                ..
            } => {
                assert_eq!((*l, *c), (line, column), "{src:?}: {e}");
                assert!(message.contains(text), "{src:?}: {e}");
            }
            other => panic!("{src:?}: expected a syntax error, got {other:?}"),
        }
        let display = e.to_string();
        assert!(
            display.starts_with("ecs-task-def.json:") && !display.contains('\n'),
            "{display}"
        );
        assert!(display.contains(": template syntax error: "), "{display}");
    }
}

#[test]
fn tera_syntax_errors_carry_position() {
    let r = basic(&[]);
    let e = err(&r, "{\n  \"a\": 1,\n  \"b\": \"{{ env(name=) }}\"\n}");
    match &e {
        TemplateError::Syntax {
            line: 3,
            column: Some(c),
            message,
            ..
        } => {
            assert!(*c > 10, "{e}");
            assert!(message.contains("check the"), "{e}");
        }
        other => panic!("expected a syntax error at line 3, got {other:?}"),
    }
    assert!(!e.to_string().contains('\n'), "{e}");
    let e = err(&r, "a\n{% if true %}\nb");
    assert!(matches!(e, TemplateError::Syntax { .. }), "{e:?}");
}

#[test]
fn go_variables_with_range_define() {
    let r = basic(&[("TAG", "v1"), ("EMPTY", "")]);
    let cases: &[(&str, &str)] = &[
        ("{{ $t := env `TAG` `latest` }}image:{{ $t }}", "image:v1"),
        ("{{- $t := env `NOPE` `latest` -}}\n{{ $t | json_escape }}", "latest"),
        ("{{ with env `TAG` `` }}tag={{ . }}{{ else }}none{{ end }}", "tag=v1"),
        ("{{ with env `EMPTY` `` }}tag={{ . }}{{ else }}none{{ end }}", "none"),
        ("{{ with $v := env `TAG` `` }}{{ $v }}/{{ . }}{{ end }}", "v1/v1"),
        ("{{ range $i := 3 }}{{ $i }},{{ end }}", "0,1,2,"),
        ("{{ range 3 }}{{ . }}{{ if eq . 1 }}{{ break }}{{ end }}{{ end }}", "01"),
        ("{{ range . }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ $x := `a` }}{{ range 2 }}{{ $x = `b` }}{{ end }}{{ $x }}", "b"),
        (
            "{{ define \"img\" }}nginx:{{ . }}{{ end }}{{ template \"img\" (env `TAG` `latest`) }}|{{ template \"img\" `x` }}",
            "nginx:v1|nginx:x",
        ),
        ("{{ define `none` }}[{{ . }}]{{ end }}{{ template `none` }}", "[<no value>]"),
        ("{{ with `outer` }}{{ with `inner` }}{{ . }}{{ end }}-{{ . }}{{ end }}", "inner-outer"),
        ("{{ if true }}{{ $y := 2 }}{{ $y }}{{ end }}", "2"),
    ];
    for (src, want) in cases {
        assert_eq!(ok(&r, src), *want, "{src}");
    }
    let errors: &[(&str, usize, &str)] = &[
        ("x\n{{ $nope }}", 2, "undefined variable $nope"),
        (
            "{{ if true }}{{ $y := 1 }}{{ end }}\n{{ $y }}",
            2,
            "undefined variable $y",
        ),
        ("x\n{{ $z = 1 }}", 2, "undefined variable $z"),
        ("x\n{{ template `t` }}", 2, "no template \"t\""),
        (
            "{{ range `abc` }}{{ . }}{{ end }}",
            1,
            "range can't iterate over abc",
        ),
        (
            "{{ if true }}\n{{ define `a` }}{{ end }}{{ end }}",
            2,
            "top level",
        ),
        ("\n{{ break }}", 2, "outside {{ range }}"),
    ];
    for (src, line, want) in errors {
        let e = err(&r, src);
        let text = e.to_string();
        assert!(text.contains(want), "{src}: {text}");
        assert!(text.starts_with(&format!("{FILE}:{line}")), "{src}: {text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

#[test]
fn unsupported_go_constructs() {
    let r = basic(&[]);
    for (src, construct) in [
        ("x\n{{ block `b` . }}{{ end }}", "block"),
        ("x\n{{ with `a` }}{{ else with `b` }}{{ end }}", "else with"),
    ] {
        let e = err(&r, src);
        assert!(
            matches!(&e, TemplateError::UnsupportedSyntax { construct: c, line: 2, .. } if c == construct),
            "{src:?}: {e:?}"
        );
        assert!(
            e.to_string().contains("is not supported in ecsx templates"),
            "{e}"
        );
    }
}

#[test]
fn undefined_tera_variable() {
    let e = err(&basic(&[]), "a\n\"x\": \"{{ TAG }}\"");
    match &e {
        TemplateError::Render {
            line: Some(2),
            message,
            ..
        } => {
            assert!(message.contains("variable `TAG` is not defined"), "{e}");
        }
        other => panic!("expected a render error at line 2, got {other:?}"),
    }
}

#[test]
fn go_comparison_type_errors() {
    let e = err(&basic(&[]), "\n{{ if lt `a` 1 }}{{ end }}");
    assert!(
        matches!(&e, TemplateError::Render { line: Some(2), message, .. } if message.contains("cannot compare string with number")),
        "{e}"
    );
    let e = err(&basic(&[]), "{{ env }}");
    assert!(
        e.to_string().contains("wrong number of arguments for env"),
        "{e}"
    );
}

#[test]
fn renders_ecspresso_task_definition() {
    let dir = testdata();
    let src = std::fs::read_to_string(dir.join("ecs-task-def.json")).unwrap();
    let want = std::fs::read_to_string(dir.join("ecs-task-def.expected.json")).unwrap();
    let r = with_state(&[("TAG", "v1.2.3"), ("JSON", "{\"a\":\"<b>\"}\n")]);
    let out = r.render(&dir.join("ecs-task-def.json"), &src).unwrap();
    assert_eq!(out, want);
    let _: Value = serde_json::from_str(&out).expect("rendered task definition is JSON");
}
