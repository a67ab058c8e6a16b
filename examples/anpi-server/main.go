package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/anpikit/anpi/store/memstore"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "anpi-server:", err)
		os.Exit(1)
	}
}

// run parses flags, seeds the demo and serves until SIGINT or SIGTERM.
func run(args []string, out *os.File) error {
	fs := flag.NewFlagSet("anpi-server", flag.ContinueOnError)
	addr := fs.String("addr", envOr("ANPI_ADDR", "127.0.0.1:8080"), "listen address (env ANPI_ADDR)")
	users := fs.Int("demo-users", 300, "number of demo users to seed")
	seed := fs.Uint64("demo-seed", 1, "random seed of the demo data")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(out, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st := memstore.New(nil)
	defer st.Close()
	demo, err := seedDemo(ctx, st, *users, *seed, time.Now())
	if err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newHandler(st, log), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "AnpiKit demo server: %d users, survey %s\nopen http://%s/ (Ctrl-C to stop)\n", *users, demo.SurveyID, ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
