package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors/osproc"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Broker is a real MQTT broker, Debian's mosquitto, on a loopback port of
// its own for one test: stopped and started again on the same port at
// will, and checked gone from /proc at the test's end.
type Broker struct {
	t    testing.TB
	path string
	port int
	proc *osproc.Process

	// With a login, the broker refuses anonymous clients; its config
	// file and password file are in dir.
	user, password, dir string
}

// Mosquitto starts a broker on a free loopback port. It fails (not skips)
// when mosquitto is not installed. At cleanup the broker is stopped and
// /proc must show no mosquitto on its port.
func Mosquitto(t testing.TB) *Broker {
	t.Helper()
	return startBroker(t, &Broker{t: t})
}

// MosquittoWithLogin is Mosquitto refusing every client but user with
// password (the test's subscribers log in).
func MosquittoWithLogin(t testing.TB, user, password string) *Broker {
	t.Helper()
	b := &Broker{t: t, user: user, password: password, dir: t.TempDir()}
	passwd := filepath.Join(b.dir, "passwd")
	if out, err := exec.Command("mosquitto_passwd", "-b", "-c", passwd, user, password).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd (package mosquitto): %v: %s", err, out)
	}
	return startBroker(t, b)
}

func startBroker(t testing.TB, b *Broker) *Broker {
	t.Helper()
	path, err := exec.LookPath("mosquitto")
	if err != nil {
		path = "/usr/sbin/mosquitto" // Debian's, outside a non-root PATH
		if _, err := exec.LookPath(path); err != nil {
			t.Fatal("mosquitto is not installed: run `make deps` (apt-get install mosquitto)")
		}
	}
	b.path = path
	t.Cleanup(func() {
		b.Stop()
		if left := b.left(); len(left) > 0 {
			for _, p := range left {
				_ = osproc.KillGroup(p)
			}
			t.Errorf("mosquitto processes left in /proc: %s", Describe(left))
		}
	})
	// A port found free may be taken before mosquitto binds it: try again.
	for attempt := 0; ; attempt++ {
		b.port = freePort(t)
		err := b.start()
		if err == nil {
			return b
		}
		if attempt == 2 {
			t.Fatal(err)
		}
	}
}

// URL is the broker's mqtt:// URL.
func (b *Broker) URL() string { return "mqtt://" + b.Addr() }

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Start starts the broker again, on the same port (with nothing retained:
// it keeps no persistence).
func (b *Broker) Start() {
	b.t.Helper()
	if b.proc != nil {
		b.t.Fatal("the broker runs already")
	}
	// The old socket may linger a moment.
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = b.start(); err == nil {
			return
		}
	}
	b.t.Fatal(err)
}

// Stop kills the broker (SIGTERM, then SIGKILL) and reaps it; its
// clients see their connection closed.
func (b *Broker) Stop() {
	if b.proc != nil {
		b.proc.Stop(2 * time.Second)
		b.proc = nil
	}
}

// start runs mosquitto on b.port and waits until it accepts connections.
func (b *Broker) start() error {
	if b.user != "" {
		if err := b.writeConf(); err != nil {
			return err
		}
	}
	proc, err := osproc.Start(osproc.Spec{Path: b.path, Args: b.args(), TailLines: 20})
	if err != nil {
		return fmt.Errorf("start mosquitto: %w", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-proc.Done():
			return fmt.Errorf("mosquitto on port %d exited: %s", b.port, strings.Join(proc.Exit().StderrTail, " | "))
		default:
		}
		if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
			c.Close()
			b.proc = proc
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	proc.Stop(time.Second)
	return fmt.Errorf("mosquitto on port %d does not accept connections", b.port)
}

// args are mosquitto's arguments: the port, or with a login its config
// file (writeConf).
func (b *Broker) args() []string {
	if b.user == "" {
		return []string{"-p", strconv.Itoa(b.port)}
	}
	return []string{"-c", filepath.Join(b.dir, "mosquitto.conf")}
}

// writeConf writes the config of a broker with a login: its port, the
// password file, no anonymous access. Run as root, mosquitto would switch
// to its own user, which cannot read the test's files: it stays root.
func (b *Broker) writeConf() error {
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\nuser root\n", b.port, filepath.Join(b.dir, "passwd"))
	return os.WriteFile(filepath.Join(b.dir, "mosquitto.conf"), []byte(text), 0o600)
}

// left lists this broker's mosquitto processes in /proc.
func (b *Broker) left() []osproc.Info {
	var out []osproc.Info
	args := b.args()
	for _, p := range osproc.Scan("mosquitto") {
		if i := slices.Index(p.Argv, args[0]); i >= 0 && i+1 < len(p.Argv) && p.Argv[i+1] == args[1] {
			out = append(out, p)
		}
	}
	return out
}

// freePort is a loopback port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Message is one message a Subscriber received.
type Message struct {
	Topic    string
	Payload  []byte
	Retained bool // sent as a retained message when the subscription was made
}

// Subscriber is an MQTT client of the test, subscribed as Home Assistant
// or Node-RED would be: it keeps every message it receives, in order, and
// reconnects (and subscribes again) when the broker comes back.
type Subscriber struct {
	client  paho.Client
	filters []string

	mu   sync.Mutex
	msgs []Message
}

// Subscribe connects a client to the broker and subscribes it to filters;
// it returns once the subscription is made. It disconnects at cleanup.
func (b *Broker) Subscribe(t testing.TB, filters ...string) *Subscriber {
	t.Helper()
	s := &Subscriber{filters: filters}
	handler := func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.msgs = append(s.msgs, Message{Topic: m.Topic(), Payload: slices.Clone(m.Payload()), Retained: m.Retained()})
	}
	subscribed := make(chan error, 1)
	opts := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(fmt.Sprintf("test-%d-%d", b.port, time.Now().UnixNano()%1e9)).
		SetUsername(b.user).SetPassword(b.password).
		SetCleanSession(true).SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) {
			want := map[string]byte{}
			for _, f := range filters {
				want[f] = 1
			}
			tok := c.SubscribeMultiple(want, handler)
			tok.WaitTimeout(5 * time.Second)
			select {
			case subscribed <- tok.Error():
			default:
			}
		})
	s.client = paho.NewClient(opts)
	s.client.Connect()
	t.Cleanup(func() { s.client.Disconnect(100) })
	select {
	case err := <-subscribed:
		if err != nil {
			t.Fatalf("subscribe %v: %v", filters, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no subscription to %v within 10s", filters)
	}
	return s
}

// Publish publishes payload on topic (QoS 1) and waits for the broker's
// answer.
func (s *Subscriber) Publish(t testing.TB, topic string, payload []byte, retain bool) {
	t.Helper()
	tok := s.client.Publish(topic, 1, retain, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// Mark is how many messages came so far: for "the next message after
// this".
func (s *Subscriber) Mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Messages are the messages received since mark.
func (s *Subscriber) Messages(mark int) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs[min(mark, len(s.msgs)):])
}

// WaitFor returns the first message since mark that pred accepts, and its
// index, waiting up to timeout (t fails past it).
func (s *Subscriber) WaitFor(t testing.TB, mark int, timeout time.Duration, what string, pred func(Message) bool) (Message, int) {
	t.Helper()
	var found Message
	at := -1
	Eventually(t, timeout, what, func() bool {
		for i, m := range s.Messages(mark) {
			if pred(m) {
				found, at = m, mark+i
				return true
			}
		}
		return false
	})
	return found, at
}

// Sync returns once every message the broker sent this subscriber before
// now has arrived: it publishes a marker on topic (which must match one
// of its filters) and waits for it, as MQTT keeps one publisher's order.
func (s *Subscriber) Sync(t testing.TB, topic string) {
	t.Helper()
	marker := fmt.Sprintf("sync-%d", time.Now().UnixNano())
	mark := s.Mark()
	s.Publish(t, topic, []byte(marker), false)
	s.WaitFor(t, mark, 10*time.Second, "the sync marker on "+topic, func(m Message) bool { return m.Topic == topic && string(m.Payload) == marker })
}
