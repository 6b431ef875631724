//! Ids as people type them: a unique prefix stands for the whole id, as git's short hashes do,
//! so an operator reading `01M91WQ2…` in a table can type the first few characters.

use std::str::FromStr;

use amsp_proto::{JobId, OrderId, PeerId};

use crate::client::NodeClient;

/// Fewest characters a prefix must have: shorter ones match too much to mean anything.
pub const MIN_PREFIX: usize = 4;

/// Candidates named in an ambiguity error before "and N more".
const SHOWN: usize = 5;

/// The one id among `known` that `typed` names — the id itself or a unique prefix of it (any
/// case) — or why none does. `kind` names what is looked for in the error ("order", "job").
pub fn resolve(kind: &str, typed: &str, known: &[String]) -> anyhow::Result<String> {
    let want = typed.trim().to_ascii_uppercase();
    if want.len() < MIN_PREFIX {
        anyhow::bail!(
            "{typed:?} is too short to name a {kind}: give at least {MIN_PREFIX} characters of its id"
        );
    }
    let hits: Vec<&String> =
        known.iter().filter(|id| id.to_ascii_uppercase().starts_with(&want)).collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => anyhow::bail!("no {kind} here has an id starting with {typed}"),
        many => {
            let shown: Vec<&str> = many.iter().take(SHOWN).map(|s| s.as_str()).collect();
            let more = many.len().saturating_sub(SHOWN);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            anyhow::bail!(
                "{typed} names {} {kind}s: {}{more}; give more characters",
                many.len(),
                shown.join(", ")
            )
        }
    }
}

/// The order `typed` names on the node: a whole id as it is, else a unique prefix of one the
/// node holds.
pub async fn order(client: &NodeClient, typed: &str) -> anyhow::Result<String> {
    if OrderId::from_str(typed).is_ok() {
        return Ok(typed.to_owned());
    }
    let known: Vec<String> =
        client.orders().await?.into_iter().map(|o| o.order.to_string()).collect();
    resolve("order", typed, &known)
}

/// The job `typed` names on the node: a whole id, a job's exact name, or a unique id prefix.
pub async fn job(client: &NodeClient, typed: &str) -> anyhow::Result<String> {
    if JobId::from_str(typed).is_ok() {
        return Ok(typed.to_owned());
    }
    let jobs = client.jobs().await?;
    let named: Vec<String> =
        jobs.iter().filter(|j| j.name == typed).map(|j| j.id.to_string()).collect();
    if let [one] = named.as_slice() {
        return Ok(one.clone());
    }
    let known: Vec<String> = jobs.iter().map(|j| j.id.to_string()).collect();
    resolve("job", typed, &known)
}

/// The peer `typed` names: a whole peer id as it is, else a connected peer whose profile name
/// is exactly `typed` (when only one has it), else a unique prefix of a connected peer's id.
pub async fn peer(client: &NodeClient, typed: &str) -> anyhow::Result<PeerId> {
    if let Ok(id) = PeerId::from_str(typed.trim()) {
        return Ok(id);
    }
    let peers = client.peers().await?;
    let named: Vec<PeerId> =
        peers.iter().filter(|p| p.name.as_deref() == Some(typed)).map(|p| p.peer_id).collect();
    if let [one] = named.as_slice() {
        return Ok(*one);
    }
    let known: Vec<String> = peers.iter().map(|p| p.peer_id.to_string()).collect();
    // Peer ids are case-sensitive base58; the prefix match is not, and the match is checked.
    let id = resolve("connected peer", typed, &known)?;
    Ok(PeerId::from_str(&id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        ["01M91WQ2J4W4V1126CKQ878WWA", "01M91WQ9ZZ0000000000000000", "01M92AAAAAAAAAAAAAAAAAAAAA"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn a_unique_prefix_in_any_case_names_its_id() {
        assert_eq!(resolve("order", "01m92", &known()).unwrap(), known()[2]);
        assert_eq!(resolve("order", "01M91WQ2", &known()).unwrap(), known()[0]);
        assert_eq!(resolve("order", &known()[1], &known()).unwrap(), known()[1]);
    }

    #[test]
    fn ambiguous_unknown_and_too_short_prefixes_say_what_to_do() {
        let err = resolve("order", "01M91WQ", &known()).unwrap_err().to_string();
        assert!(err.contains("names 2 orders") && err.contains(&known()[0]), "{err}");
        assert!(err.contains("give more characters"), "{err}");
        let err = resolve("job", "01M93", &known()).unwrap_err().to_string();
        assert_eq!(err, "no job here has an id starting with 01M93");
        let err = resolve("order", "01M", &known()).unwrap_err().to_string();
        assert!(err.contains("at least 4 characters"), "{err}");
    }
}
