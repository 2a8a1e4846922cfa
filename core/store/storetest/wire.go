package storetest

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// Wire counts what kessai asks of MySQL, exactly: it reads the client's side of the protocol on
// every connection dialled through it and counts the commands, not an estimate from the code.
// Give a store the DSN of Wire.DSN (or Wire.MySQL) and read Count before and after the work.
//
// A command is one client packet that starts a conversation (sequence number 0). kessai's DSN
// turns interpolateParams on, so a statement is one COM_QUERY; without it the driver sends a
// statement with arguments as COM_STMT_PREPARE, COM_STMT_EXECUTE and COM_STMT_CLOSE: two round
// trips and one packet the server does not answer.
type Wire struct {
	network string
	mu      sync.Mutex
	n       WireCount
}

// WireCount is what the connections of a Wire sent, summed since it was made.
type WireCount struct {
	// Connections is how many connections were dialled; each one's handshake is not a
	// command, but the SET of session variables the driver sends after it is.
	Connections int64
	// Commands is every command packet, answered or not.
	Commands int64
	// RoundTrips is the commands the client waits for an answer to: all but COM_STMT_CLOSE,
	// COM_STMT_SEND_LONG_DATA and COM_QUIT.
	RoundTrips int64
	// Prepares is how many statements were prepared (COM_STMT_PREPARE).
	Prepares int64
	// Statements is how many SQL statements ran: COM_QUERY (BEGIN and COMMIT included) and
	// COM_STMT_EXECUTE.
	Statements int64
	// Begins, Commits and Rollbacks are START TRANSACTION, COMMIT and ROLLBACK statements
	// (ROLLBACK TO SAVEPOINT is not a rollback of the transaction).
	Begins, Commits, Rollbacks int64
	// AutocommitWrites is INSERT, UPDATE, DELETE and REPLACE statements run outside a
	// transaction: each one is a transaction of its own that the server commits.
	AutocommitWrites int64
}

// Sub returns c less o, field by field: what happened between two counts.
func (c WireCount) Sub(o WireCount) WireCount {
	return WireCount{
		Connections: c.Connections - o.Connections, Commands: c.Commands - o.Commands, RoundTrips: c.RoundTrips - o.RoundTrips,
		Prepares: c.Prepares - o.Prepares, Statements: c.Statements - o.Statements, Begins: c.Begins - o.Begins,
		Commits: c.Commits - o.Commits, Rollbacks: c.Rollbacks - o.Rollbacks, AutocommitWrites: c.AutocommitWrites - o.AutocommitWrites,
	}
}

// Durable is how many transactions the server committed: COMMIT statements and writes that
// committed by themselves.
func (c WireCount) Durable() int64 { return c.Commits + c.AutocommitWrites }

var wires atomic.Int64

// NewWire registers a dial function with the MySQL driver under a network name of its own and
// returns the Wire that counts its connections. Registrations last as long as the process, as
// the driver offers no way to remove one; a test binary makes a handful.
func NewWire() *Wire {
	w := &Wire{network: fmt.Sprintf("kessai-wire-%d", wires.Add(1))}
	mysql.RegisterDialContext(w.network, func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		w.add(func(n *WireCount) { n.Connections++ })
		return &wireConn{Conn: c, w: w, stmts: map[uint32]string{}}, nil
	})
	return w
}

// DSN returns the kessai MySQL DSN dsn (mysql://…tcp(HOST:PORT)/DB) dialling through w.
func (w *Wire) DSN(dsn string) (string, error) {
	cfg, err := mysql.ParseDSN(strings.TrimPrefix(dsn, "mysql://"))
	if err != nil {
		return "", fmt.Errorf("wire: %w", err)
	}
	if cfg.Net != "tcp" {
		return "", fmt.Errorf("wire: counts TCP connections, not %s", cfg.Net)
	}
	cfg.Net = w.network
	return "mysql://" + cfg.FormatDSN(), nil
}

// MySQL is NewMySQLDatabase dialling through w.
func (w *Wire) MySQL(t testing.TB) string {
	t.Helper()
	dsn, err := w.DSN(NewMySQLDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Count returns the counts so far.
func (w *Wire) Count() WireCount {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *Wire) add(f func(*WireCount)) {
	w.mu.Lock()
	f(&w.n)
	w.mu.Unlock()
}

// Command bytes of the client/server protocol.
const (
	comQuit             = 0x01
	comQuery            = 0x03
	comStmtPrepare      = 0x16
	comStmtExecute      = 0x17
	comStmtSendLongData = 0x18
	comStmtClose        = 0x19
)

// wireConn reads both directions of one connection. The driver uses a connection from one
// goroutine at a time and waits for each answer before its next command, so the state needs no
// lock: the first server packet after a COM_STMT_PREPARE is its answer.
type wireConn struct {
	net.Conn
	w         *Wire
	out, in   packets
	inTx      bool
	preparing string            // the verb of the statement being prepared, until its answer
	awaiting  bool              // a COM_STMT_PREPARE was sent and its answer not yet read
	stmts     map[uint32]string // prepared statement id → its verb
}

func (c *wireConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.feed(p[:n], c.command)
	return n, err
}

func (c *wireConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.feed(p[:n], c.answer)
	return n, err
}

// command is one complete client packet; head is the start of its payload.
func (c *wireConn) command(seq byte, head []byte) {
	if seq != 0 || len(head) == 0 {
		return // the handshake, or the rest of a packet longer than 16 MiB
	}
	var d WireCount
	d.Commands = 1
	switch head[0] {
	case comStmtClose:
		if len(head) >= 5 {
			delete(c.stmts, binary.LittleEndian.Uint32(head[1:5]))
		}
	case comQuit, comStmtSendLongData:
	default:
		d.RoundTrips = 1
	}
	switch head[0] {
	case comQuery:
		d.Statements = 1
		c.statement(verb(head[1:]), string(head[1:]), &d)
	case comStmtPrepare:
		d.Prepares = 1
		c.preparing, c.awaiting = verb(head[1:]), true
	case comStmtExecute:
		d.Statements = 1
		if len(head) >= 5 {
			c.statement(c.stmts[binary.LittleEndian.Uint32(head[1:5])], "", &d)
		}
	}
	c.w.add(func(n *WireCount) {
		n.Commands += d.Commands
		n.RoundTrips += d.RoundTrips
		n.Prepares += d.Prepares
		n.Statements += d.Statements
		n.Begins += d.Begins
		n.Commits += d.Commits
		n.Rollbacks += d.Rollbacks
		n.AutocommitWrites += d.AutocommitWrites
	})
}

// statement follows the transaction state of one statement with the given verb.
func (c *wireConn) statement(v, text string, d *WireCount) {
	switch v {
	case "START", "BEGIN":
		if v == "BEGIN" || strings.HasPrefix(strings.ToUpper(text), "START TRANSACTION") {
			c.inTx = true
			d.Begins++
		}
	case "COMMIT":
		c.inTx = false
		d.Commits++
	case "ROLLBACK":
		if !strings.Contains(strings.ToUpper(text), " TO ") {
			c.inTx = false
			d.Rollbacks++
		}
	case "INSERT", "UPDATE", "DELETE", "REPLACE":
		if !c.inTx {
			d.AutocommitWrites++
		}
	}
}

// answer is one complete server packet: the first one after a COM_STMT_PREPARE is
// COM_STMT_PREPARE_OK (0x00, the statement id) or an error.
func (c *wireConn) answer(_ byte, head []byte) {
	if !c.awaiting {
		return
	}
	c.awaiting = false
	if len(head) >= 5 && head[0] == 0x00 {
		c.stmts[binary.LittleEndian.Uint32(head[1:5])] = c.preparing
	}
}

// verb is the first word of a statement, upper-cased.
func verb(sql []byte) string {
	s := strings.TrimLeft(string(sql), " \t\r\n(")
	if i := strings.IndexAny(s, " \t\r\n("); i >= 0 {
		s = s[:i]
	}
	return strings.ToUpper(s)
}

// headSize is how much of a payload packets keeps: the command byte and enough of the SQL for
// its verb and for telling ROLLBACK from ROLLBACK TO SAVEPOINT.
const headSize = 32

// packets reassembles a stream of protocol packets (3-byte length, 1-byte sequence number,
// payload) from reads or writes of any size, keeping the head of each payload.
type packets struct {
	hdr  [4]byte
	nhdr int
	left int // payload bytes of the current packet still to come
	head []byte
}

func (p *packets) feed(b []byte, done func(seq byte, head []byte)) {
	for len(b) > 0 {
		if p.nhdr < 4 {
			k := copy(p.hdr[p.nhdr:], b)
			p.nhdr += k
			b = b[k:]
			if p.nhdr < 4 {
				return
			}
			p.left = int(p.hdr[0]) | int(p.hdr[1])<<8 | int(p.hdr[2])<<16
			p.head = p.head[:0]
			if p.left == 0 {
				done(p.hdr[3], p.head)
				p.nhdr = 0
				continue
			}
		}
		k := min(p.left, len(b))
		if room := headSize - len(p.head); room > 0 {
			p.head = append(p.head, b[:min(k, room)]...)
		}
		p.left -= k
		b = b[k:]
		if p.left == 0 {
			done(p.hdr[3], p.head)
			p.nhdr = 0
		}
	}
}
