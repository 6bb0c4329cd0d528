//! The browser security headers: the dev server sends on every answer (page, assets, API,
//! problems) exactly the headers that template.yaml's CloudFront response headers policy sets
//! in AWS, and that policy is attached to every behaviour of the distribution.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, header};
use integrations::testing::{TEST_JWT_SECRET, TestEnv};
use local_stack::security_headers::{CONTENT_SECURITY_POLICY, HEADERS, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY};
use secrecy::SecretString;
use serde_yaml::Value;
use tower::ServiceExt;

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// A policy's directives by name, each with its sources.
fn directives(policy: &str) -> BTreeMap<String, Vec<String>> {
    policy
        .split(';')
        .map(str::split_whitespace)
        .filter_map(|mut words| {
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(str::to_owned).collect()))
        })
        .collect()
}

/// The CSP of the template: the string of its `!Sub [string, variables]`.
fn template_csp(config: &Value) -> String {
    let sub = &config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"];
    let Value::Tagged(tagged) = sub else { panic!("the CSP is a !Sub: {sub:?}") };
    assert_eq!(tagged.tag, "!Sub");
    tagged.value[0].as_str().expect("the !Sub's string").to_owned()
}

#[test]
fn the_cloudfront_policy_sets_the_headers_the_dev_server_sends() {
    let template = template();
    let policy = &template["Resources"]["WebSecurityHeaders"];
    assert_eq!(policy["Type"], "AWS::CloudFront::ResponseHeadersPolicy");
    let config = &policy["Properties"]["ResponseHeadersPolicyConfig"];
    let security = &config["SecurityHeadersConfig"];

    // The CSP: the same directives; in AWS connect-src also names the identity provider.
    let mut aws = directives(&template_csp(config));
    let mut local = directives(CONTENT_SECURITY_POLICY);
    let aws_connect = aws.remove("connect-src").expect("connect-src in AWS");
    let local_connect = local.remove("connect-src").expect("connect-src locally");
    assert_eq!(aws, local, "the CSP directives of template.yaml and of the dev server");
    assert_eq!(aws_connect, [local_connect, vec!["${IdentityProviderOrigin}".to_owned()]].concat());
    for (name, sources) in &local {
        assert!(!sources.iter().any(|s| s.contains("unsafe")), "{name} allows {sources:?}");
    }
    assert_eq!(local["frame-ancestors"], ["'none'"]);

    let hsts = &security["StrictTransportSecurity"];
    let include = if hsts["IncludeSubdomains"] == true { "; includeSubDomains" } else { "" };
    let preload = if hsts["Preload"] == true { "; preload" } else { "" };
    let max_age = hsts["AccessControlMaxAgeSec"].as_u64().expect("max age");
    assert_eq!(format!("max-age={max_age}{include}{preload}"), STRICT_TRANSPORT_SECURITY);
    assert_eq!(security["ReferrerPolicy"]["ReferrerPolicy"].as_str(), Some(REFERRER_POLICY));
    assert_eq!(security["FrameOptions"]["FrameOption"].as_str(), Some("DENY"));
    assert!(security["ContentTypeOptions"].is_mapping(), "X-Content-Type-Options: nosniff");
    for (name, header) in [
        ("ContentSecurityPolicy", header::CONTENT_SECURITY_POLICY),
        ("StrictTransportSecurity", header::STRICT_TRANSPORT_SECURITY),
        ("ReferrerPolicy", header::REFERRER_POLICY),
        ("FrameOptions", header::X_FRAME_OPTIONS),
        ("ContentTypeOptions", header::X_CONTENT_TYPE_OPTIONS),
    ] {
        assert_eq!(security[name]["Override"], true, "{name} replaces what an origin sends");
        assert!(HEADERS.iter().any(|(h, _)| *h == header), "the dev server sends {header}");
    }
    assert_eq!(HEADERS.len(), 5, "every header the dev server sends is in the policy");

    // Every behaviour of the distribution (the page and /api/*) answers with the policy.
    let distribution = &template["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"];
    let behaviours = std::iter::once(&distribution["DefaultCacheBehavior"])
        .chain(distribution["CacheBehaviors"].as_sequence().expect("behaviours"));
    for behaviour in behaviours {
        let Value::Tagged(id) = &behaviour["ResponseHeadersPolicyId"] else {
            panic!("a behaviour without the policy: {behaviour:?}")
        };
        assert_eq!((id.tag.to_string().as_str(), &id.value), ("!Ref", &Value::from("WebSecurityHeaders")));
    }
}

#[tokio::test]
async fn every_answer_of_the_dev_server_carries_the_security_headers() {
    let env = TestEnv::new().await;
    let web = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web"));
    let app = local_stack::app(|f| env.state_for(f), SecretString::from(TEST_JWT_SECRET), Some(web));
    let mut failures = Vec::new();
    for (path, status) in [
        ("/integrations", 200),
        ("/assets/app.js", 200),
        ("/web-config.json", 200),
        ("/api/v1/integrations/available", 401),
        ("/api/v1/integrations/no/such/thing", 404),
    ] {
        let response = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        if response.status() != status {
            failures.push(format!("GET {path}: {} instead of {status}", response.status()));
        }
        for (name, value) in HEADERS {
            let sent = response.headers().get(name).and_then(|v| v.to_str().ok());
            if sent != Some(value) {
                failures.push(format!("GET {path}: {name} is {sent:?}, not {value:?}"));
            }
        }
    }
    env.cleanup().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
