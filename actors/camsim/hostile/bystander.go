package hostile

import (
	"net"
	"sync"
	"sync/atomic"
)

// Bystander is a listener where a hostile camera redirects its client: it
// counts the connections it is offered (and closes them), so a test can
// say that nothing reached it.
type Bystander struct {
	ln    net.Listener
	count atomic.Int32
	wg    sync.WaitGroup
}

// NewBystander listens on a free loopback port.
func NewBystander() (*Bystander, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Bystander{ln: ln}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			b.count.Add(1)
			nc.Close()
		}
	}()
	return b, nil
}

// Addr is where it listens.
func (b *Bystander) Addr() string { return b.ln.Addr().String() }

// Connections counts the connections offered so far.
func (b *Bystander) Connections() int { return int(b.count.Load()) }

// Close stops listening.
func (b *Bystander) Close() error {
	err := b.ln.Close()
	b.wg.Wait()
	return err
}
