//! `--remote <API URL>`: the console (and any local client) against a
//! deployed stack. Each call is forwarded to the API Gateway URL and signed
//! with SigV4 (service `execute-api`) from the operator's own AWS
//! credentials, found by the SDK's standard provider chain (environment,
//! profile, SSO cache, instance role). No credential reaches the browser:
//! the page talks to this process only.

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, SystemTime};
use tier_service::{ApiError, ApiRequest, ApiResponse};

type Https = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

pub struct RemoteApi {
    /// The stage URL, without a trailing slash.
    base: String,
    region: String,
    credentials: aws_credential_types::provider::SharedCredentialsProvider,
    client: Client<Https, Full<bytes::Bytes>>,
}

/// How long one forwarded call may take (API Gateway itself stops at 29 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The region of an `https://{id}.execute-api.{region}.amazonaws.com/...` URL.
pub fn region_of(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let mut labels = host.split('.');
    labels.next()?;
    (labels.next()? == "execute-api").then_some(())?;
    labels.next().map(str::to_owned)
}

impl RemoteApi {
    /// Loads the operator's credentials; the region comes from `region`,
    /// else the URL, else the SDK's chain (`AWS_REGION`, the profile).
    pub async fn new(url: &str, region: Option<String>) -> Result<RemoteApi, String> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(format!("--remote {url}: give the API's http(s) URL with its stage, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/prod"));
        }
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let region = region
            .or_else(|| region_of(&base))
            .or_else(|| config.region().map(|r| r.to_string()))
            .ok_or_else(|| "--remote: no region: pass --region, or set AWS_REGION".to_owned())?;
        let credentials = config.credentials_provider().ok_or_else(|| {
            "--remote: no AWS credentials provider found (set AWS_PROFILE or AWS_ACCESS_KEY_ID)"
                .to_owned()
        })?;
        Self::with_credentials(&base, region, credentials).await
    }

    /// The same with a given credentials provider (tests, tools).
    pub async fn with_credentials(
        url: &str,
        region: String,
        credentials: aws_credential_types::provider::SharedCredentialsProvider,
    ) -> Result<RemoteApi, String> {
        let base = url.trim_end_matches('/').to_owned();
        // Fail at start, with the SDK's own words, rather than on every call.
        credentials
            .provide_credentials()
            .await
            .map_err(|e| format!("--remote: no AWS credentials: {e}"))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("--remote: no TLS root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(RemoteApi {
            base,
            region,
            credentials,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Forwards one request, signed; the deployed API's answer comes back
    /// as it was (a failure to reach it is a 502 of ours).
    pub async fn forward(&self, request: ApiRequest) -> ApiResponse {
        match tokio::time::timeout(CALL_TIMEOUT, self.call(request)).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(why)) => bad_gateway(&why),
            Err(_) => bad_gateway("the deployed API did not answer within 30 s"),
        }
    }

    async fn call(&self, request: ApiRequest) -> Result<ApiResponse, String> {
        let mut uri = format!("{}{}", self.base, request.path);
        if !request.query.is_empty() {
            uri.push('?');
            uri.push_str(&serde_urlencoded::to_string(&request.query).map_err(|e| e.to_string())?);
        }
        let mut http_request = http::Request::builder()
            .method(request.method.as_str())
            .uri(&uri)
            .header("content-type", "application/json")
            .header("x-request-id", &request.request_id)
            .body(Full::new(bytes::Bytes::from(request.body.clone())))
            .map_err(|e| format!("cannot build the request to {uri}: {e}"))?;
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| format!("no AWS credentials: {e}"))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let headers: Vec<(&str, &str)> = http_request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(
            &request.method,
            &uri,
            headers.into_iter(),
            SignableBody::Bytes(&request.body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("cannot sign: {e}"))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut http_request);
        let response = self
            .client
            .request(http_request)
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.base))?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(&request.request_id)
            .to_owned();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("the answer from {} broke off: {e}", self.base))?
            .to_bytes();
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("x-request-id", request_id),
        ];
        if let Some(r) = retry_after {
            headers.push(("retry-after", r));
        }
        Ok(ApiResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

fn bad_gateway(why: &str) -> ApiResponse {
    tracing::error!(cause = %why, "remote call failed");
    let e = ApiError::new(502, "remote_unreachable", why.to_owned());
    ApiResponse {
        status: e.status,
        headers: vec![("content-type", "application/json".into())],
        body: e.body(),
    }
}

#[cfg(test)]
mod tests {
    use super::region_of;

    #[test]
    fn the_region_is_read_from_an_api_gateway_url() {
        assert_eq!(
            region_of("https://abc123.execute-api.eu-west-1.amazonaws.com/prod").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of("http://127.0.0.1:3000"), None);
        assert_eq!(region_of("https://api.example.com/prod"), None);
    }
}
