//! The network clients of a process: one TLS configuration, and only the clients a function uses.
//!
//! Every HTTPS connection of a process, to AWS and to the providers alike, is made with one
//! rustls configuration ([`tls_config`]): aws-lc-rs, and Mozilla's root certificates compiled
//! into the binary (`webpki-roots`), so a cold start reads no certificate file. The AWS SDK
//! sends its requests through reqwest on that configuration ([`AwsHttp`]), as do the provider
//! calls ([`provider_http`]) and the OAuth token calls ([`token_http`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// A client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the TLS configuration could not be built")]
    Tls(#[source] rustls::Error),
    #[error("the {0} HTTP client could not be built")]
    Http(&'static str, #[source] reqwest::Error),
}

/// The process's TLS configuration, built on first use.
static TLS: LazyLock<Result<rustls::ClientConfig, rustls::Error>> = LazyLock::new(|| {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
});

/// The one TLS configuration of the process: rustls on aws-lc-rs, Mozilla's roots compiled in,
/// HTTP/2 or HTTP/1.1 offered. Its clones share the root store, the certificate verifier and
/// the session cache.
pub fn tls_config() -> Result<rustls::ClientConfig, ClientError> {
    TLS.clone().map_err(ClientError::Tls)
}

/// How long a provider call may take, connecting included ([`provider_http`]).
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long an OAuth token call may take ([`token_http`]).
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(15);

fn builder() -> Result<reqwest::ClientBuilder, ClientError> {
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls_config()?))
}

/// The client of the providers' APIs (what `providers::http_client()` builds), on the shared
/// TLS configuration.
pub fn provider_http() -> Result<reqwest::Client, ClientError> {
    builder()?
        .connect_timeout(Duration::from_secs(5))
        .timeout(PROVIDER_TIMEOUT)
        .user_agent(concat!("director-of-one-integrations/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Http("provider", e))
}

/// A client for one signed webhook: it connects to `address` for `host` (an address the SSRF
/// guard checked; DNS is not asked again), follows no redirect, and gives up after `timeout`.
/// Built per send; it shares the process's TLS configuration.
pub fn pinned_http(
    host: &str,
    address: std::net::SocketAddr,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    builder()?
        .resolve(host, address)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .user_agent(concat!("director-of-one-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Http("webhook", e))
}

/// The client of the OAuth token endpoints (what `oauth::no_redirects_client()` builds): never
/// follows redirects; on the shared TLS configuration.
pub fn token_http() -> Result<reqwest::Client, ClientError> {
    builder()?
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(TOKEN_TIMEOUT)
        .build()
        .map_err(|e| ClientError::Http("OAuth token", e))
}

/// The AWS SDK's HTTP client: reqwest on the shared TLS configuration.
///
/// One reqwest client (one connection pool) per set of connector settings, built at the first
/// request that needs it; the SDK's clients of one process share them. Redirects are not
/// followed (as with the SDK's own client).
#[derive(Clone, Default)]
pub struct AwsHttp {
    connectors: Arc<Mutex<Vec<(ConnectorKey, SharedHttpConnector)>>>,
}

type ConnectorKey = (Option<Duration>, Option<Duration>);

impl fmt::Debug for AwsHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsHttp").finish_non_exhaustive()
    }
}

impl AwsHttp {
    pub fn new() -> Self {
        Self::default()
    }

    fn connector(settings: &HttpConnectorSettings) -> Result<ReqwestConnector, ClientError> {
        let mut builder = builder()?.redirect(reqwest::redirect::Policy::none());
        if let Some(timeout) = settings.connect_timeout() {
            builder = builder.connect_timeout(timeout);
        }
        let client = builder.build().map_err(|e| ClientError::Http("AWS SDK", e))?;
        Ok(ReqwestConnector { client, read_timeout: settings.read_timeout() })
    }
}

impl HttpClient for AwsHttp {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, connector)) = connectors.iter().find(|(k, _)| *k == key) {
            return connector.clone();
        }
        let connector = match Self::connector(settings) {
            Ok(connector) => SharedHttpConnector::new(connector),
            // Every request through it then fails with the reason (and its cause).
            Err(e) => SharedHttpConnector::new(Unavailable(Arc::new(e))),
        };
        connectors.push((key, connector.clone()));
        connector
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("reqwest", Some(Cow::Borrowed("0.13"))))
    }
}

#[derive(Debug)]
struct ReqwestConnector {
    client: reqwest::Client,
    /// Until the response's headers have arrived (the SDK's meaning of a read timeout).
    read_timeout: Option<Duration>,
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let request = request.try_into_http1x().map_err(|e| ConnectorError::user(e.into()))?;
            let request = reqwest::Request::try_from(request.map(reqwest::Body::wrap))
                .map_err(|e| ConnectorError::user(e.into()))?;
            let response = match read_timeout {
                None => client.execute(request).await,
                Some(limit) => tokio::time::timeout(limit, client.execute(request))
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
            }
            .map_err(connector_error)?;
            let response = http::Response::<reqwest::Body>::from(response).map(SdkBody::from_body_1_x);
            aws_smithy_runtime_api::http::Response::try_from(response)
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Sorts a reqwest error the way the SDK's retry policy expects: timeouts and I/O failures are
/// transient.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else if e.is_builder() {
        ConnectorError::user(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}

/// The connector of an HTTP client that could not be built.
#[derive(Debug)]
struct Unavailable(Arc<ClientError>);

impl HttpConnector for Unavailable {
    fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
        let error = self.0.clone();
        HttpConnectorFuture::ready(Err(ConnectorError::other(Box::new(SharedError(error)), None)))
    }
}

#[derive(Debug)]
struct SharedError(Arc<ClientError>);

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

/// The AWS SDK configuration of a function: [`AwsHttp`] for its requests; in Lambda, the region
/// and the credentials straight from the environment (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, …), the
/// first places the default chains look, without building the chains.
pub async fn aws_config() -> SdkConfig {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(SharedHttpClient::new(AwsHttp::new()));
    if let Some(region) = env("AWS_REGION") {
        loader = loader.region(Region::new(region));
    }
    if env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_config::SdkConfig;
    use aws_sdk_dynamodb::error::SdkError;
    use aws_smithy_runtime_api::client::http::SharedHttpClient;

    use super::*;

    #[test]
    fn one_tls_configuration_with_compiled_in_roots() {
        let config = tls_config().expect("the TLS configuration");
        assert_eq!(config.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100, "Mozilla's roots are compiled in");
        provider_http().expect("the provider client");
        token_http().expect("the token client");
    }

    /// The emulator's configuration, its requests sent through [`AwsHttp`]; or, to `endpoint`,
    /// without retries and with a `read_timeout`.
    async fn emulator(endpoint: Option<String>, read_timeout: Option<Duration>) -> SdkConfig {
        let mut aws =
            crate::testing::emulator_config().await.into_builder().http_client(SharedHttpClient::new(AwsHttp::new()));
        if let Some(endpoint) = endpoint {
            aws = aws.endpoint_url(endpoint).retry_config(aws_config::retry::RetryConfig::disabled());
        }
        if let Some(limit) = read_timeout {
            aws = aws.timeout_config(aws_config::timeout::TimeoutConfig::builder().read_timeout(limit).build());
        }
        aws.build()
    }

    #[tokio::test]
    async fn the_sdk_talks_through_reqwest() {
        let aws = emulator(None, None).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        let table = format!("clients-{}", ulid::Ulid::new().to_string().to_lowercase());
        crate::store::table::create_table(&dynamo, &table).await.expect("create a table");
        // A service error comes back parsed, as from the SDK's own client.
        let missing = dynamo.describe_table().table_name(format!("{table}-missing")).send().await;
        let err = missing.expect_err("no such table").into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        dynamo.delete_table().table_name(&table).send().await.expect("delete the table");

        let secrets = aws_sdk_secretsmanager::Client::new(&aws);
        let name = format!("test/clients/{}", ulid::Ulid::new());
        secrets.create_secret().name(&name).secret_string("{\"a\":1}").send().await.expect("create a secret");
        let got = secrets.get_secret_value().secret_id(&name).send().await.expect("read it");
        assert_eq!(got.secret_string(), Some("{\"a\":1}"));
        secrets.delete_secret().secret_id(&name).force_delete_without_recovery(true).send().await.expect("delete it");

        let sqs = aws_sdk_sqs::Client::new(&aws);
        let queue = sqs
            .create_queue()
            .queue_name(format!("clients-{}", ulid::Ulid::new()))
            .send()
            .await
            .expect("create a queue")
            .queue_url
            .expect("its URL");
        sqs.send_message().queue_url(&queue).message_body("hello").send().await.expect("send");
        let received = sqs.receive_message().queue_url(&queue).send().await.expect("receive");
        assert_eq!(received.messages()[0].body(), Some("hello"));
        sqs.delete_queue().queue_url(&queue).send().await.expect("delete the queue");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transient_io_error() {
        // Nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let aws = emulator(Some(format!("http://127.0.0.1:{port}")), None).await;
        let err = aws_sdk_dynamodb::Client::new(&aws).list_tables().send().await.expect_err("refused");
        let SdkError::DispatchFailure(failure) = err else { panic!("a dispatch failure: {err:?}") };
        assert!(failure.is_io(), "{failure:?}");
    }

    #[tokio::test]
    async fn a_silent_server_hits_the_read_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Accepts, reads, never answers.
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(socket);
        });
        let aws = emulator(Some(format!("http://{addr}")), Some(Duration::from_millis(300))).await;
        let started = std::time::Instant::now();
        let err = aws_sdk_dynamodb::Client::new(&aws).list_tables().send().await.expect_err("no answer");
        let SdkError::DispatchFailure(failure) = err else { panic!("a dispatch failure: {err:?}") };
        assert!(failure.is_timeout(), "{failure:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
