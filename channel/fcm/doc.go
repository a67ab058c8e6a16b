// Package fcm will hold the Firebase Cloud Messaging adapter of
// channel.Sender (appleboy/go-fcm). It is a module of its own because go-fcm
// pulls in about 200 modules that users of the rest of AnpiKit should not
// carry. The adapter itself is planned (issue [4/7]); this package has no
// API yet.
package fcm
