//! STS (awsQuery): who the caller is. The world's `caller` is the identity
//! every request is taken to come from, whatever credentials it carries.

use super::wire::{xml_escape, ApiError};
use super::world::{hex_id, World};

/// Answer one STS action with the XML that goes inside `<{Action}Result>`.
pub(crate) fn handle(
    world: &World,
    action: &str,
    _params: &[(String, String)],
) -> Result<String, ApiError> {
    match action {
        "GetCallerIdentity" => Ok(get_caller_identity(world)),
        other => Err(ApiError::invalid_action(other)),
    }
}

/// The Account, Arn and UserId STS reports for the world's caller.
pub(crate) fn caller_identity(world: &World) -> (String, String, String) {
    let arn = world.caller_arn();
    // arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    let account = match fields.get(4) {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => world.account.clone(),
    };
    let resource = fields.get(5).copied().unwrap_or("");
    let unique = hex_id(&format!("principal/{arn}"), 17).to_ascii_uppercase();
    let user_id = if resource == "root" {
        account.clone()
    } else if let Some(rest) = resource.strip_prefix("assumed-role/") {
        // AROA<id>:<session name>, as STS reports an assumed role.
        let session = rest.split_once('/').map_or(rest, |(_, s)| s);
        format!("AROA{unique}:{session}")
    } else if resource.starts_with("federated-user/") {
        let name = resource.trim_start_matches("federated-user/");
        format!("{account}:{name}")
    } else {
        format!("AIDA{unique}")
    };
    (account, arn, user_id)
}

fn get_caller_identity(world: &World) -> String {
    let (account, arn, user_id) = caller_identity(world);
    format!(
        "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
        xml_escape(&arn),
        xml_escape(&user_id),
        xml_escape(&account)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_caller_is_a_user_in_the_world_account() {
        let world = World::empty();
        let (account, arn, user_id) = caller_identity(&world);
        assert_eq!(account, "123456789012");
        assert_eq!(arn, "arn:aws:iam::123456789012:user/sandbox");
        assert!(
            user_id.starts_with("AIDA") && user_id.len() == 21,
            "{user_id}"
        );
    }

    #[test]
    fn assumed_role_caller() {
        let mut world = World::empty();
        world.caller = Some("arn:aws:sts::210987654321:assumed-role/Deployer/alice".into());
        let (account, _, user_id) = caller_identity(&world);
        assert_eq!(account, "210987654321");
        assert!(
            user_id.starts_with("AROA") && user_id.ends_with(":alice"),
            "{user_id}"
        );
    }

    #[test]
    fn unknown_action_is_invalid_action() {
        let err = handle(&World::empty(), "AssumeRole", &[]).unwrap_err();
        assert_eq!(err.code, "InvalidAction");
    }
}
