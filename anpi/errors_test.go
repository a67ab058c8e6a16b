package anpi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCodeThroughWrapping(t *testing.T) {
	base := Errorf(NotFound, "anpi: user %s does not exist", "u1")
	wrapped := fmt.Errorf("service: start send: %w", base)
	require.Equal(t, NotFound, Code(base))
	require.Equal(t, NotFound, Code(wrapped))
	require.Equal(t, "service: start send: anpi: user u1 does not exist", wrapped.Error())

	cause := Errorf(InvalidArgument, "anpi: read: %w", io.ErrUnexpectedEOF)
	require.ErrorIs(t, cause, io.ErrUnexpectedEOF)
	require.Equal(t, "anpi: read: unexpected EOF", cause.Error())

	require.Equal(t, OK, Code(nil))
	require.Equal(t, Unavailable, Code(fmt.Errorf("x: %w", context.Canceled)))
	require.Equal(t, Unavailable, Code(context.DeadlineExceeded))
	require.Equal(t, Internal, Code(errors.New("boom")))
	require.Equal(t, "PermissionDenied", PermissionDenied.String())
	require.Equal(t, "ErrorCode(99)", ErrorCode(99).String())
}
