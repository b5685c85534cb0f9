//! openapi.yaml and the served routes describe the same API.

use e2e::{Api, Engine};
use std::collections::BTreeSet;

/// (METHOD, path) pairs of openapi.yaml's `paths`.
fn documented() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    let mut routes = BTreeSet::new();
    let mut path = None;
    let mut in_paths = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end().trim_end_matches(':')));
        } else if let Some(m) = line.strip_prefix("    ") {
            let m = m.trim_end().trim_end_matches(':');
            if ["get", "put", "post", "delete", "patch"].contains(&m) {
                routes.insert((
                    m.to_uppercase(),
                    path.clone().expect("a method under a path"),
                ));
            }
        }
    }
    routes
}

#[test]
fn openapi_documents_exactly_the_routes_the_service_serves() {
    let served: BTreeSet<(String, String)> = tier_service::ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented(), served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_api_answers_every_documented_route() {
    let api = Api::start(Engine::Embedded).await;
    let documented = documented();
    assert_eq!(documented.len(), 8);
    for (method, path) in documented {
        let concrete = path
            .replace("{programId}", "p")
            .replace("{customerId}", "c");
        let body = (method != "GET").then(|| "{}".to_owned());
        let reply = api.send(&method, &concrete, body).await;
        assert!(
            !matches!(reply.code(), "route_not_found" | "method_not_allowed"),
            "{method} {path} is not served: {}",
            reply.body
        );
    }
}
