package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// webhook delivers the alerts actor's changes to alerts.webhook.url, each
// alert (rule and subject) on its own: a failing delivery is retried with
// back-off (or after the receiver's Retry-After) without holding back any
// other alert's, and a newer change of the same alert replaces the one
// waiting. A 4xx answer other than 429 is not retried: the receiver
// refused the request itself. At most Policy.WebhookInFlight posts run at
// once. It lives inside the alerts actor: its state is the actor's, each
// post runs on a goroutine of its own and reports back by message.
type webhook struct {
	env      *Env
	client   *http.Client
	url      string
	format   string
	host     string
	alerts   map[string]*hookAlert // by rule + "\x00" + subject
	ready    []string              // alerts waiting for a post to end
	inflight int
}

// hookAlert is one alert's delivery.
type hookAlert struct {
	change  *messages.AlertChanged // the newest change, the one to deliver
	gen     int64                  // bumped with each change
	attempt int
	posting bool
	retry   *time.Timer
}

// hookDone is a post's outcome, sent back to the alerts actor.
type hookDone struct {
	key        string
	gen        int64
	status     int // 0 when no answer came
	retryAfter time.Duration
	err        error
}

// hookRetry is the end of an alert's back-off.
type hookRetry struct {
	key string
	gen int64
}

func newWebhook(env *Env) *webhook {
	cfg := env.Config.Alerts.Webhook
	target := cfg.URL
	if cfg.Format == config.FormatAlertmanager {
		if u, err := url.Parse(target); err == nil && (u.Path == "" || u.Path == "/") {
			u.Path = "/api/v2/alerts"
			target = u.String()
		}
	}
	host, _ := os.Hostname()
	// No connection is kept between posts: a receiver that is down must
	// not leave one half-open per alert.
	return &webhook{env: env, url: target, format: cfg.Format, host: host, alerts: map[string]*hookAlert{},
		client: &http.Client{Timeout: cfg.Timeout.Duration, Transport: &http.Transport{DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment}}}
}

// send queues change for delivery, replacing an older change of the same
// alert that still waits.
func (w *webhook) send(ctx actor.Context, change *messages.AlertChanged) {
	if w == nil {
		return
	}
	key := change.Rule + "\x00" + change.Subject
	st := w.alerts[key]
	if st == nil {
		st = &hookAlert{}
		w.alerts[key] = st
	}
	st.change, st.attempt = change, 0
	st.gen++
	stopTimer(st.retry)
	if !st.posting {
		w.post(ctx, key)
	}
}

// post starts one attempt of key's delivery, or queues it behind the
// posts in flight.
func (w *webhook) post(ctx actor.Context, key string) {
	st := w.alerts[key]
	if st == nil || st.posting {
		return
	}
	if w.inflight >= max(1, w.env.Policy.WebhookInFlight) {
		if !slices.Contains(w.ready, key) {
			w.ready = append(w.ready, key)
		}
		return
	}
	body, err := w.body(st.change)
	if err != nil {
		w.env.Log.Error("alert webhook: cannot encode the alert", "alert", st.change.Rule, "reason", err.Error())
		delete(w.alerts, key)
		return
	}
	st.posting = true
	st.attempt++
	w.inflight++
	system, self, gen := ctx.ActorSystem(), ctx.Self(), st.gen
	go func() {
		done := w.do(body)
		done.key, done.gen = key, gen
		system.Root.Send(self, done)
	}()
}

// onDone takes a post's outcome: delivered, refused for good, or to be
// tried again after a back-off.
func (w *webhook) onDone(ctx actor.Context, d *hookDone) {
	if w == nil {
		return
	}
	w.inflight--
	defer w.dispatch(ctx)
	st := w.alerts[d.key]
	if st == nil {
		return
	}
	st.posting = false
	c := st.change
	switch {
	case st.gen != d.gen:
		w.post(ctx, d.key) // a newer change came meanwhile: it goes now
		return
	case d.err == nil:
		delete(w.alerts, d.key)
		return
	case d.status >= 400 && d.status < 500 && d.status != http.StatusTooManyRequests:
		w.env.Log.Error("alert webhook refused the alert; not retried", "alert", c.Rule, "subject", c.Subject, "reason", d.err.Error())
		delete(w.alerts, d.key)
		return
	case st.attempt >= w.env.Config.Alerts.Webhook.MaxAttempts:
		w.env.Log.Error("alert webhook failed; giving up on this alert change", "alert", c.Rule, "subject", c.Subject,
			"attempts", st.attempt, "reason", d.err.Error())
		delete(w.alerts, d.key)
		return
	}
	wait := min(w.env.Policy.WebhookFirstBackoff<<min(st.attempt-1, 16), w.env.Policy.WebhookMaxBackoff)
	if d.retryAfter > 0 {
		wait = min(d.retryAfter, w.env.Policy.WebhookMaxRetryAfter)
	}
	w.env.Log.Warn("alert webhook failed; retrying", "alert", c.Rule, "subject", c.Subject, "attempt", st.attempt,
		"retry_in", wait.String(), "reason", d.err.Error())
	st.retry = after(ctx.ActorSystem(), ctx.Self(), wait, &hookRetry{key: d.key, gen: d.gen})
}

func (w *webhook) onRetry(ctx actor.Context, r *hookRetry) {
	if w == nil {
		return
	}
	if st := w.alerts[r.key]; st != nil && st.gen == r.gen {
		w.post(ctx, r.key)
	}
}

// dispatch starts the queued posts while there is room.
func (w *webhook) dispatch(ctx actor.Context) {
	for len(w.ready) > 0 && w.inflight < max(1, w.env.Policy.WebhookInFlight) {
		key := w.ready[0]
		w.ready = w.ready[1:]
		w.post(ctx, key)
	}
}

// stop drops what waits; a post in flight reports to nobody.
func (w *webhook) stop() {
	if w == nil {
		return
	}
	undelivered := 0
	for _, st := range w.alerts {
		stopTimer(st.retry)
		undelivered++
	}
	if undelivered > 0 {
		w.env.Log.Warn("alert webhook: changes not delivered at stop", "alerts", undelivered)
	}
	w.alerts = map[string]*hookAlert{}
}

// do posts body once.
func (w *webhook) do(body []byte) *hookDone {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return &hookDone{err: errors.New(redact.SecretURL(err.Error(), w.url))} // Go quotes the URL, its secret path too
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return &hookDone{err: errors.New(redact.SecretURL(err.Error(), w.url))} // Go quotes the URL, its secret path too
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 300 {
		return &hookDone{status: resp.StatusCode}
	}
	return &hookDone{status: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		err: fmt.Errorf("webhook answered %d", resp.StatusCode)}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// body is the JSON posted for c, in the configured format.
func (w *webhook) body(c *messages.AlertChanged) ([]byte, error) {
	if w.format != config.FormatAlertmanager {
		m := map[string]any{"rule": c.Rule, "subject": c.Subject, "state": c.State, "first_seen": c.FirstSeen.UTC(),
			"last_seen": c.LastSeen.UTC(), "detail": c.Detail, "run": w.env.RunID}
		if !c.ResolvedAt.IsZero() {
			m["resolved_at"] = c.ResolvedAt.UTC()
		}
		return json.Marshal(m)
	}
	return json.Marshal([]alertmanagerAlert{alertmanagerOf(c, w.host, w.env.Policy.AlertRefresh)})
}

// alertmanagerAlert is one alert of Alertmanager's POST /api/v2/alerts.
type alertmanagerAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// alertmanagerOf is c as Alertmanager takes it: labels name it as the
// Prometheus rules file does (alertname, rule, severity, and camera or
// subnet); a firing alert ends a few refreshes from now unless camvisor
// sends it again (it does every Policy.AlertRefresh while it fires), so an
// alert whose camvisor died resolves by itself; a resolved one ends when
// it resolved.
func alertmanagerOf(c *messages.AlertChanged, host string, refresh time.Duration) alertmanagerAlert {
	labels := map[string]string{"alertname": AlertName(c.Rule), "rule": c.Rule, "subject": c.Subject,
		"severity": alertSeverity(c.Rule), "instance": host}
	switch c.Rule {
	case "process_budget_exceeded", "camera_failing", "camera_busy":
		labels["camera"] = c.Subject
	case "interval_too_short", "cycle_overrun":
		labels["subnet"] = c.Subject
	}
	a := alertmanagerAlert{Labels: labels, StartsAt: c.FirstSeen.UTC(),
		Annotations: map[string]string{"summary": fmt.Sprintf("%s: %s", c.Rule, c.Subject), "description": c.Detail}}
	if c.State == messages.AlertResolved {
		a.EndsAt = c.ResolvedAt.UTC()
	} else {
		a.EndsAt = c.LastSeen.Add(4 * refresh).UTC()
	}
	return a
}

// AlertName is a rule's alertname, as Prometheus alerts are named:
// camera_failing → CamvisorCameraFailing.
func AlertName(rule string) string {
	var b strings.Builder
	b.WriteString("Camvisor")
	for _, part := range strings.Split(rule, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// alertSeverity: a leak or a record that cannot be written is critical;
// the rest is a warning.
func alertSeverity(rule string) string {
	switch rule {
	case "process_budget_exceeded", "unowned_process", "record_write_failing":
		return "critical"
	}
	return "warning"
}
