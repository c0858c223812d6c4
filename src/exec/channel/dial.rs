//! Opening the WebSocket: the (optionally SigV4-signed) upgrade request and
//! the opening text frame that carries the session token (protocol.md §1).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_types::SdkConfig;
use futures::SinkExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use super::ChannelError;
use crate::protocol::payloads::OpenDataChannelInput;

/// The client side of the data channel.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// SigV4 service name of the data channel.
const SIGNING_SERVICE: &str = "ssmmessages";

/// `url` without its query string, for messages (the query is opaque).
pub(crate) fn display_url(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or(url).to_owned()
}

/// The region of an `ssmmessages.<region>.amazonaws.com` host.
fn region_from_host(host: &str) -> Option<&str> {
    let rest = host.strip_prefix("ssmmessages.")?;
    let region = rest.split('.').next()?;
    let tail = &rest[region.len()..];
    (tail.starts_with(".amazonaws.com") && !region.is_empty()).then_some(region)
}

/// The upgrade request for `url`, with SigV4 headers when `credentials`
/// and a region are known: service `ssmmessages`, only `Host` (plus the
/// `X-Amz-*` signing headers) signed, the empty-body hash.
pub(crate) fn upgrade_request(
    url: &str,
    credentials: Option<&Credentials>,
    fallback_region: Option<&str>,
    time: SystemTime,
) -> Result<Request, ChannelError> {
    let connect_error = |message: String| ChannelError::Connect {
        url: display_url(url),
        message,
    };
    let mut request = url
        .into_client_request()
        .map_err(|e| connect_error(format!("invalid stream URL: {e}")))?;
    let Some(credentials) = credentials else {
        return Ok(request);
    };
    let host = request
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| connect_error("stream URL has no host".to_owned()))?;
    let host_only = host.split(':').next().unwrap_or(&host);
    let Some(region) = region_from_host(host_only).or(fallback_region) else {
        return Ok(request);
    };

    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| connect_error(format!("cannot sign the upgrade request: {e}")))?
        .into();
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        "GET",
        uri.as_str(),
        std::iter::once(("host", host.as_str())),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| connect_error(format!("cannot sign the upgrade request: {e}")))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| connect_error(format!("cannot sign the upgrade request: {e}")))?
        .into_parts();
    let (headers, _params) = instructions.into_parts();
    for header in headers {
        let mut value = HeaderValue::from_str(header.value())
            .map_err(|_| connect_error("signing produced an invalid header".to_owned()))?;
        value.set_sensitive(true);
        request.headers_mut().insert(header.name(), value);
    }
    Ok(request)
}

/// One TLS configuration for every `wss://` socket of the process, built on
/// first use from the system's trusted roots. (Without one, tokio-tungstenite
/// reads and parses every root certificate again for each socket: a hundred
/// times for `exec --all-tasks` on a hundred tasks.)
fn tls_connector() -> Result<Connector, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if roots.is_empty() {
                return Err("no trusted root certificates found on this machine; install the ca-certificates package or set SSL_CERT_FILE".to_string());
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
        .map(Connector::Rustls)
}

/// Credentials from the SDK config, when it has a provider that yields some.
pub(crate) async fn credentials(sdk: &SdkConfig) -> Option<Credentials> {
    let provider = sdk.credentials_provider()?;
    provider.provide_credentials().await.ok()
}

/// Dials `url` (signed when credentials exist) and sends the opening frame
/// carrying `token`.
pub(crate) async fn dial(
    url: &str,
    token: &str,
    sdk: &SdkConfig,
    client_id: Uuid,
    client_version: &str,
    connect_timeout: Duration,
) -> Result<Ws, ChannelError> {
    let connect_error = |message: String| ChannelError::Connect {
        url: display_url(url),
        message,
    };
    let attempt = async {
        let creds = credentials(sdk).await;
        let region = sdk.region().map(|r| r.as_ref().to_owned());
        let request = upgrade_request(url, creds.as_ref(), region.as_deref(), SystemTime::now())?;
        let tls = match url.starts_with("wss:") {
            true => Some(tls_connector().map_err(connect_error)?),
            false => None,
        };
        let (mut ws, _response) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(socket_config()),
            true,
            tls,
        )
        .await
        .map_err(|e| connect_error(e.to_string()))?;
        ws.send(WsMessage::text(open_frame(
            token,
            client_id,
            client_version,
        )))
        .await
        .map_err(|e| connect_error(format!("cannot send the opening frame: {e}")))?;
        Ok(ws)
    };
    tokio::time::timeout(connect_timeout, attempt)
        .await
        .map_err(|_| connect_error(format!("no connection within {connect_timeout:?}")))?
}

/// The JSON of the opening text frame, with a fresh request id.
pub(crate) fn open_frame(token: &str, client_id: Uuid, client_version: &str) -> String {
    let mut input = OpenDataChannelInput::new(token, client_id);
    input.client_version = client_version.to_owned();
    serde_json::to_string(&input).unwrap_or_default()
}

/// tungstenite zero-fills its whole read buffer before every read (128 KiB
/// by default); a stream of 1 KiB messages arrives a few tens of KiB per
/// read, so 64 KiB keeps the batches and halves the filling.
fn socket_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(64 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TLS setup for `wss://` is built once and shared by every socket.
    #[test]
    fn one_tls_configuration_serves_every_socket() {
        let config = |c: Connector| match c {
            Connector::Rustls(config) => config,
            _ => panic!("not rustls"),
        };
        let first = config(tls_connector().expect("this machine has trusted roots"));
        let second = config(tls_connector().unwrap());
        assert!(Arc::ptr_eq(&first, &second));
    }
}
