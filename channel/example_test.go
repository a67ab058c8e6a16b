package channel_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/anpikit/anpi/channel"
)

// An adapter classifies the provider's answer; the caller reads the code and
// the wait, and can still reach the provider's own error.
func ExampleCode() {
	type httpError struct{ error }
	provider := httpError{errors.New("unexpected status code: 429")}

	// In the adapter:
	err := channel.WithRetryAfter(
		channel.NewError(channel.RateLimited, provider, `line: push "s1/u1/line"`), 30*time.Second)

	// In the caller:
	wrapped := fmt.Errorf("dispatch: %w", err)
	d, ok := channel.RetryAfter(wrapped)
	var he httpError
	fmt.Println(channel.Code(wrapped), d, ok, errors.As(wrapped, &he), channel.Code(wrapped).Retryable())
	fmt.Println(wrapped)
	fmt.Println(channel.Code(fmt.Errorf("post: %w", http.ErrHandlerTimeout)))
	// Output:
	// RateLimited 30s true true true
	// dispatch: line: push "s1/u1/line": unexpected status code: 429
	// Unknown
}
