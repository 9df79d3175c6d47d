// gorilla/websocket peer for bench/compare: echo on any path, broadcast on /broadcast (every
// message any /broadcast connection sends goes to every /broadcast connection, as binary).
// GOMAXPROCS=1: goroutines share one thread running Go code, as the other servers have one.
// Echo is gorilla's echo example (ReadMessage, WriteMessage: one frame per message, where a
// NextWriter would cut large messages into frames of its buffer's size); broadcast sends one
// PreparedMessage (framed once) through a queue per subscriber, as gorilla's chat example does.
//
// Usage: gorilla_server [--port N] [--compress]   (prints "listening on 127.0.0.1:N")
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"

	"github.com/gorilla/websocket"
)

// Broadcasts one subscriber may have waiting (fastws_bench keeps at most its window in flight).
const queueDepth = 256

type hub struct {
	mutex       sync.Mutex
	subscribers map[chan *websocket.PreparedMessage]struct{}
}

func (h *hub) publish(message *websocket.PreparedMessage) {
	h.mutex.Lock()
	defer h.mutex.Unlock()
	for queue := range h.subscribers {
		queue <- message
	}
}

func (h *hub) join(queue chan *websocket.PreparedMessage) {
	h.mutex.Lock()
	h.subscribers[queue] = struct{}{}
	h.mutex.Unlock()
}

func (h *hub) leave(queue chan *websocket.PreparedMessage) {
	h.mutex.Lock()
	delete(h.subscribers, queue)
	h.mutex.Unlock()
}

func echo(conn *websocket.Conn) {
	for {
		kind, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if err := conn.WriteMessage(kind, data); err != nil {
			return
		}
	}
}

func subscribe(conn *websocket.Conn, h *hub) {
	queue := make(chan *websocket.PreparedMessage, queueDepth)
	h.join(queue)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			message, err := websocket.NewPreparedMessage(websocket.BinaryMessage, data)
			if err != nil {
				return
			}
			h.publish(message)
		}
	}()
	for {
		select {
		case message := <-queue:
			if err := conn.WritePreparedMessage(message); err != nil {
				h.leave(queue)
				return
			}
		case <-done:
			h.leave(queue)
			return
		}
	}
}

func main() {
	port := flag.Int("port", 9001, "port on 127.0.0.1")
	compress := flag.Bool("compress", false, "accept permessage-deflate")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	upgrader := websocket.Upgrader{
		EnableCompression: *compress,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	h := &hub{subscribers: make(map[chan *websocket.PreparedMessage]struct{})}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetReadLimit(16 << 20)
		if r.URL.Path == "/broadcast" {
			subscribe(conn, h)
		} else {
			echo(conn)
		}
	})
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on 127.0.0.1:%d\n", *port)
	fmt.Fprintln(os.Stderr, http.Serve(listener, handler))
	os.Exit(1)
}
