package actors

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"camvisor/actors/redact"

	"github.com/asynkron/protoactor-go/actor"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// mqttLink is the connection to the broker: a paho client driven by the
// mqtt actor's worker goroutine, one job at a time (connect, publish a
// batch, stop), so that a slow or absent broker blocks that goroutine and
// never the actor's mailbox. A batch's messages are all sent before their
// PUBACKs are awaited: a distant broker costs one round trip per batch,
// not per message. Only that goroutine touches its fields. paho's own
// reconnecting is off: the actor decides when to try again.
type mqttLink struct {
	env    *Env
	topics mqttTopics
	system *actor.ActorSystem
	self   *actor.PID
	client paho.Client // the connected client; nil while there is none
}

// linkJob is one job of the link: a connect, a batch to publish (at most
// Policy.MQTT.InFlight messages), or the stop.
type linkJob struct {
	connect *linkConnect
	publish []mqttMessage
	stop    *linkStop
}

// linkConnect connects (generation gen), subscribes, and publishes the
// retained state before anything else: availability, discovery, states.
type linkConnect struct {
	gen      int
	retained []mqttMessage
}

// linkStop publishes what is left (within Policy.MQTT.StopWait), says
// offline and disconnects.
type linkStop struct {
	flush []mqttMessage
}

// linkResult is a job's outcome.
type linkResult struct {
	err  error
	sent int // of the batch (or the stop's flush), the first that the broker confirmed
}

// linkLost is paho's news that connection gen broke.
type linkLost struct {
	gen int
	err error
}

// mqttIncoming is a message from the broker: a command, or a discovery
// config of this node.
type mqttIncoming struct {
	topic    string
	payload  []byte
	retained bool
}

var errNotConnected = errors.New("not connected to the broker")

func (l *mqttLink) do(job linkJob) linkResult {
	switch {
	case job.connect != nil:
		return linkResult{err: l.connect(job.connect)}
	case job.publish != nil:
		sent, err := l.publish(job.publish, time.Now().Add(l.env.Policy.MQTT.PublishTimeout))
		return linkResult{sent: sent, err: err}
	case job.stop != nil:
		return l.stop(job.stop)
	}
	return linkResult{}
}

// connect replaces any earlier client with a new connection.
func (l *mqttLink) connect(c *linkConnect) error {
	l.drop(0)
	cfg, p := l.env.Config.MQTT, l.env.Policy.MQTT
	broker, err := brokerURL(cfg.URL)
	if err != nil {
		return err
	}
	system, self, gen := l.system, l.self, c.gen
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID(mqttClientID(l.env.RunID)).
		SetUsername(cfg.Username).SetPassword(cfg.Password).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(p.ConnectTimeout).SetKeepAlive(p.KeepAlive).SetPingTimeout(p.PublishTimeout).SetWriteTimeout(p.PublishTimeout).
		SetWill(l.topics.available(), "offline", 1, true).
		SetConnectionLostHandler(func(_ paho.Client, err error) { system.Root.Send(self, &linkLost{gen: gen, err: err}) })
	if u, _ := url.Parse(broker); u != nil && u.Scheme == "mqtts" {
		opts.SetTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	client := paho.NewClient(opts)
	tok := client.Connect()
	if !tok.WaitTimeout(p.ConnectTimeout + time.Second) {
		client.Disconnect(0)
		return fmt.Errorf("connect %s: no answer within %s", redact.URL(cfg.URL), p.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("connect %s: %s", redact.URL(cfg.URL), redact.Text(err.Error()))
	}
	l.client = client
	filters := map[string]byte{l.topics.discoveryFilter(): 1}
	if cfg.Commands {
		for _, f := range l.topics.commandFilters() {
			filters[f] = 1
		}
	}
	incoming := func(_ paho.Client, m paho.Message) {
		system.Root.Send(self, &mqttIncoming{topic: m.Topic(), payload: slices.Clone(m.Payload()), retained: m.Retained()})
	}
	sub := client.SubscribeMultiple(filters, incoming)
	if !sub.WaitTimeout(p.PublishTimeout) {
		l.drop(0)
		return fmt.Errorf("subscribe: no answer within %s", p.PublishTimeout)
	}
	if err := sub.Error(); err != nil {
		l.drop(0)
		return fmt.Errorf("subscribe: %w", err)
	}
	for batch := range slices.Chunk(c.retained, max(1, p.InFlight)) {
		if _, err := l.publish(batch, time.Now().Add(p.PublishTimeout)); err != nil {
			l.drop(0)
			return err
		}
	}
	return nil
}

// publish sends msgs with QoS 1, then waits for the broker's PUBACKs
// until deadline. sent counts the messages confirmed before the first
// that was not.
func (l *mqttLink) publish(msgs []mqttMessage, deadline time.Time) (sent int, err error) {
	if l.client == nil || !l.client.IsConnectionOpen() {
		return 0, errNotConnected
	}
	toks := make([]paho.Token, len(msgs))
	for i, m := range msgs {
		toks[i] = l.client.Publish(m.topic, 1, m.retain, m.payload)
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(max(time.Until(deadline), time.Millisecond)) {
			return i, fmt.Errorf("publish %s: no answer from the broker within %s", msgs[i].topic, l.env.Policy.MQTT.PublishTimeout)
		}
		if err := tok.Error(); err != nil {
			return i, fmt.Errorf("publish %s: %s", msgs[i].topic, redact.Text(err.Error()))
		}
	}
	return len(msgs), nil
}

// stop flushes, says offline (retained: the last will is only for a
// connection that breaks) and disconnects.
func (l *mqttLink) stop(s *linkStop) linkResult {
	if l.client == nil {
		if len(s.flush) > 0 {
			l.env.Log.Warn("mqtt: messages not delivered at stop", "messages", len(s.flush), "reason", errNotConnected.Error())
		}
		return linkResult{err: errNotConnected}
	}
	deadline := time.Now().Add(l.env.Policy.MQTT.StopWait)
	var res linkResult
	offline := mqttMessage{topic: l.topics.available(), payload: []byte("offline"), retain: true}
	res.sent, res.err = l.publish(append(slices.Clone(s.flush), offline), deadline)
	res.sent = min(res.sent, len(s.flush))
	if res.sent < len(s.flush) || res.err != nil {
		l.env.Log.Warn("mqtt: messages not delivered at stop", "messages", len(s.flush)-res.sent, "reason", fmt.Sprint(res.err))
	}
	l.drop(250)
	return res
}

// drop disconnects the client, if any, waiting up to quiesce ms for work
// in flight.
func (l *mqttLink) drop(quiesce uint) {
	if l.client != nil {
		l.client.Disconnect(quiesce)
		l.client = nil
	}
}

// brokerURL is the broker's URL with its scheme's default port when it
// names none: 1883 for mqtt, 8883 for mqtts.
func brokerURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("mqtt.url %q: %s", redact.URL(raw), parseErrorText(err))
	}
	if u.Port() == "" {
		port := "1883"
		if u.Scheme == "mqtts" {
			port = "8883"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u.String(), nil
}

// parseErrorText is url.Parse's complaint without the URL it quotes.
func parseErrorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "not a URL"
}

// mqttClientID is this run's client id: unique per run (a second camvisor
// on the same broker must not take this one's session), and within the 23
// bytes every broker accepts.
func mqttClientID(run string) string {
	if len(run) > 14 {
		run = run[len(run)-14:]
	}
	return "camvisor-" + run
}
