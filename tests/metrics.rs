//! The `metrics` import through real guests: what listeners report is exposed in the
//! Prometheus text format beside the host's own series, within bounds.

use tokenwatch_tests::*;

#[test]
fn metering_reports_tokens_per_client_and_scope_beside_the_host_series() {
    let (host, _) = host(vec![listener("metering", "metering")]);
    host.dispatch(&access_token("alice", "webapp", "openid email"));
    host.dispatch(&access_token("bob", "webapp", "openid"));
    host.dispatch(&access_token("carol", "batch", "reports:read"));
    let text = host.metrics_text();
    for line in [
        r#"guest_access_tokens_total{listener="metering",client_id="webapp"} 2"#,
        r#"guest_access_tokens_total{listener="metering",client_id="batch"} 1"#,
        r#"guest_access_token_scopes_total{listener="metering",scope="openid"} 2"#,
        r#"guest_access_token_scopes_total{listener="metering",scope="reports:read"} 1"#,
        r#"tokenwatch_listener_events_total{listener="metering"} 3"#,
        r#"tokenwatch_listener_delivered_total{listener="metering"} 3"#,
        r#"tokenwatch_listener_traps_total{listener="metering",cause="fuel"} 0"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}

#[test]
fn a_listener_cannot_grow_the_hosts_metrics_past_their_bound() {
    let (host, rec) = host(vec![probe("flood", "metrics-flood")]);
    host.dispatch(&id_token("alice"));
    let log = rec.of("flood");
    assert!(log.iter().any(|l| l.starts_with("metrics ok=1000 refused=1000 first=") && l.ends_with("TooManySeries(1000)")), "{log:?}");
    host.dispatch(&id_token("bob"));
    let text = host.metrics_text();
    let series: Vec<&str> = text.lines().filter(|l| l.starts_with("guest_flood_total{")).collect();
    assert_eq!(series.len(), 1000, "kept 1,000 label sets, no more");
    assert!(series.iter().all(|l| l.ends_with(" 2")), "the kept ones count both events");
}
