// Package alerting tells people: it sends each cabin's urgent situations
// (receiver/situation) to Prometheus Alertmanager's v2 API, as Prometheus
// and Grafana do, one alert per cabin and situation, re-sent while active
// and resolved when it clears. Routing to e-mail, SMS, chat or paging is
// Alertmanager's job. Several receivers may send the same alerts:
// Alertmanager makes one notification of identical label sets.
package alerting
