//! HTTP routing shared by every function and the local API. A request is
//! plain data (method, path, query, body); each Lambda serves only the routes
//! of its own function, the local API serves them all.

use crate::error::ApiError;
use crate::Service;
use serde::Serialize;

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
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl ApiResponse {
    fn json<T: Serialize>(status: u16, body: &T) -> Self {
        ApiResponse {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: serde_json::to_string(body).unwrap_or_default(),
        }
    }

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

impl Service {
    pub async fn handle(&self, request: ApiRequest, serves: Serves) -> ApiResponse {
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
            return match self.dispatch(method, pattern, &params, &request).await {
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
            ("GET", "/programs/{programId}/config") => ok(&self.get_config(program).await?),
            ("POST", "/programs/{programId}/config/validate") => ok(&self.validate_config(body)?),
            ("PUT", "/programs/{programId}/customers/{customerId}/tier") => {
                ok(&self.set_tier(program, &params[1], body).await?)
            }
            ("POST", "/programs/{programId}/orders") => {
                ok(&self.ingest_order(program, body).await?)
            }
            ("POST", "/programs/{programId}/customers/{customerId}/redemptions") => {
                ok(&self.redeem(program, &params[1], body).await?)
            }
            ("POST", "/programs/{programId}/returns") => {
                ok(&self.reverse_return(program, body).await?)
            }
            ("GET", "/programs/{programId}/customers/{customerId}") => {
                let as_of = request
                    .query
                    .iter()
                    .find(|(k, _)| k == "asOf")
                    .map(|(_, v)| v.as_str());
                ok(&self.status(program, &params[1], as_of).await?)
            }
            _ => Ok(ApiResponse::json(
                404,
                &serde_json::json!({"error": {"code": "route_not_found", "message": pattern}}),
            )),
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
