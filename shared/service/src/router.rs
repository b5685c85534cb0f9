//! HTTP routing shared by every function and the local API. A request is
//! plain data (method, path, query, body); each Lambda serves only the routes
//! of its own function, the local API serves them all.

use crate::error::ApiError;
use crate::Service;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    UpdateConfig,
    IngestOrder,
    ReverseReturn,
    QueryStatus,
}

/// Which functions a binary serves.
#[derive(Debug, Clone, Copy)]
pub enum Serves {
    Only(Function),
    All,
}

impl Serves {
    fn allows(self, f: Function) -> bool {
        match self {
            Serves::All => true,
            Serves::Only(only) => only == f,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// Echoed as `x-request-id` and logged (API Gateway's id in Lambda).
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiRequest {
    /// A query parameter's value (the first, if repeated).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a request's log line says beyond its route and status.
#[derive(Debug, Default)]
struct Note {
    route: &'static str,
    program: Option<String>,
    customer: Option<String>,
    tier_change: Option<String>,
}

impl Note {
    fn tiers(&mut self, customer: &str, before: &str, after: &str) {
        self.customer = Some(customer.to_owned());
        if before != after {
            self.tier_change = Some(format!("{before} -> {after}"));
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl ApiResponse {
    fn error(e: &ApiError) -> Self {
        let mut headers = vec![("content-type", "application/json".into())];
        if let Some(seconds) = e.retry_after {
            headers.push(("retry-after", seconds.to_string()));
        }
        ApiResponse {
            status: e.status,
            headers,
            body: e.body(),
        }
    }
}

/// Every route: (method, path pattern, function). `{x}` matches one segment.
pub const ROUTES: &[(&str, &str, Function)] = &[
    (
        "PUT",
        "/programs/{programId}/config",
        Function::UpdateConfig,
    ),
    (
        "GET",
        "/programs/{programId}/config",
        Function::UpdateConfig,
    ),
    (
        "POST",
        "/programs/{programId}/config/validate",
        Function::UpdateConfig,
    ),
    (
        "PUT",
        "/programs/{programId}/customers/{customerId}/tier",
        Function::UpdateConfig,
    ),
    (
        "POST",
        "/programs/{programId}/orders",
        Function::IngestOrder,
    ),
    (
        "POST",
        "/programs/{programId}/customers/{customerId}/redemptions",
        Function::IngestOrder,
    ),
    (
        "POST",
        "/programs/{programId}/returns",
        Function::ReverseReturn,
    ),
    (
        "GET",
        "/programs/{programId}/customers/{customerId}",
        Function::QueryStatus,
    ),
    (
        "GET",
        "/programs/{programId}/customers/{customerId}/explain",
        Function::QueryStatus,
    ),
    (
        "POST",
        "/programs/{programId}/simulations",
        Function::UpdateConfig,
    ),
    (
        "GET",
        "/programs/{programId}/simulations/{simulationId}",
        Function::UpdateConfig,
    ),
    (
        "GET",
        "/programs/{programId}/customers/{customerId}/orders",
        Function::QueryStatus,
    ),
    ("GET", "/programs/{programId}/events", Function::QueryStatus),
    (
        "GET",
        "/programs/{programId}/jobs/{jobId}",
        Function::UpdateConfig,
    ),
];

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Matches `path` against `pattern`, returning the path parameters.
fn matches(pattern: &str, path: &str) -> Option<Vec<String>> {
    let want: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = Vec::new();
    for (w, g) in want.iter().zip(&got) {
        if w.starts_with('{') {
            params.push(percent_decode(g)?);
        } else if w != g {
            return None;
        }
    }
    Some(params)
}

/// A new request id for a request that came without one.
pub fn new_request_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

impl Service {
    /// Serves one request and writes its one log line (the same shape in
    /// Lambda and locally): request id, route, status, latency, program,
    /// customer, tier change, DynamoDB requests and capacity units.
    pub async fn handle(&self, request: ApiRequest, serves: Serves) -> ApiResponse {
        let started = std::time::Instant::now();
        let mut note = Note::default();
        let (mut reply, used) = tier_store::measured(self.route(&request, serves, &mut note)).await;
        let error_code = (reply.status >= 400)
            .then(|| serde_json::from_str::<serde_json::Value>(&reply.body).ok())
            .flatten()
            .and_then(|b| b["error"]["code"].as_str().map(str::to_owned));
        tracing::info!(
            requestId = %request.request_id,
            method = %request.method,
            route = note.route,
            status = reply.status,
            latencyMs = started.elapsed().as_secs_f64() * 1000.0,
            programId = note.program.as_deref(),
            customerId = note.customer.as_deref(),
            tierChange = note.tier_change.as_deref(),
            errorCode = error_code.as_deref(),
            dynamodbRequests = used.requests,
            readUnits = used.read_units,
            writeUnits = used.write_units,
            "request"
        );
        reply
            .headers
            .push(("x-request-id", request.request_id.clone()));
        reply
    }

    async fn route(&self, request: &ApiRequest, serves: Serves, note: &mut Note) -> ApiResponse {
        let mut path_known = false;
        for (method, pattern, function) in ROUTES {
            let Some(params) = matches(pattern, &request.path) else {
                continue;
            };
            if !serves.allows(*function) {
                continue;
            }
            path_known = true;
            if !method.eq_ignore_ascii_case(&request.method) {
                continue;
            }
            note.route = pattern;
            // Ids are checked later: a hostile one is logged cut short.
            let short = |s: &String| s.chars().take(128).collect::<String>();
            note.program = params.first().map(short);
            note.customer = params.get(1).map(short);
            return match self.dispatch(method, pattern, &params, request, note).await {
                Ok(r) => r,
                Err(e) => ApiResponse::error(&e),
            };
        }
        let e = if path_known {
            ApiError::new(
                405,
                "method_not_allowed",
                format!("{} is not allowed on {}", request.method, request.path),
            )
        } else {
            ApiError::not_found(
                "route_not_found",
                format!("no route {} {}", request.method, request.path),
            )
        };
        ApiResponse::error(&e)
    }

    async fn dispatch(
        &self,
        method: &str,
        pattern: &str,
        params: &[String],
        request: &ApiRequest,
        note: &mut Note,
    ) -> Result<ApiResponse, ApiError> {
        let program = params[0].as_str();
        crate::check_path_id("programId", program)?;
        let body = &request.body;
        let ok = |v: &dyn erased::Json| {
            Ok(ApiResponse {
                status: 200,
                headers: vec![("content-type", "application/json".into())],
                body: v.to_json(),
            })
        };
        match (method, pattern) {
            ("PUT", "/programs/{programId}/config") => ok(&self.put_config(program, body).await?),
            ("GET", "/programs/{programId}/config") => {
                ok(&self.get_config(program, request.param("version")).await?)
            }
            ("POST", "/programs/{programId}/config/validate") => ok(&self.validate_config(body)?),
            ("POST", "/programs/{programId}/simulations") => Ok(ApiResponse {
                status: 202,
                headers: vec![("content-type", "application/json".into())],
                body: erased::Json::to_json(&self.start_simulation(program, body).await?),
            }),
            ("GET", "/programs/{programId}/simulations/{simulationId}") => {
                ok(&self.get_simulation(program, &params[1]).await?)
            }
            ("PUT", "/programs/{programId}/customers/{customerId}/tier") => {
                let r = self.set_tier(program, &params[1], body).await?;
                note.tiers(&r.customer_id, &r.tier_before, &r.tier);
                ok(&r)
            }
            ("POST", "/programs/{programId}/orders") => {
                let r = self.ingest_order(program, body).await?;
                let arrival = r.tier_on_arrival.as_deref().unwrap_or(&r.tier_after);
                note.tiers(&r.customer_id, arrival, &r.tier_after);
                ok(&r)
            }
            ("POST", "/programs/{programId}/customers/{customerId}/redemptions") => {
                ok(&self.redeem(program, &params[1], body).await?)
            }
            ("POST", "/programs/{programId}/returns") => {
                let r = self.reverse_return(program, body).await?;
                note.tiers(&r.customer_id, &r.tier_before, &r.tier_after);
                ok(&r)
            }
            ("GET", "/programs/{programId}/customers/{customerId}") => ok(&self
                .status(program, &params[1], request.param("asOf"))
                .await?),
            ("GET", "/programs/{programId}/customers/{customerId}/orders") => ok(&self
                .orders(program, &params[1], request.param("limit"))
                .await?),
            ("GET", "/programs/{programId}/customers/{customerId}/explain") => {
                let query = crate::explain::ExplainQuery {
                    tier: request.param("tier"),
                    order_id: request.param("orderId"),
                    as_of: request.param("asOf"),
                };
                ok(&self.explain(program, &params[1], query).await?)
            }
            ("GET", "/programs/{programId}/jobs/{jobId}") => {
                ok(&self.get_job(program, &params[1]).await?)
            }
            ("GET", "/programs/{programId}/events") => ok(&self
                .events(program, request.param("after"), request.param("limit"))
                .await?),
            _ => Err(ApiError::not_found("route_not_found", pattern.to_owned())),
        }
    }
}

mod erased {
    //! Lets `dispatch` encode any response type through one closure.
    pub trait Json {
        fn to_json(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_percent_decoded_and_lengths_must_match() {
        assert_eq!(
            matches(
                "/programs/{programId}/customers/{customerId}",
                "/programs/p%201/customers/c"
            ),
            Some(vec!["p 1".to_owned(), "c".to_owned()])
        );
        assert_eq!(
            matches("/programs/{programId}/orders", "/programs/p/orders/x"),
            None
        );
        assert_eq!(
            matches("/programs/{programId}/orders", "/programs/%zz/orders"),
            None
        );
    }
}
