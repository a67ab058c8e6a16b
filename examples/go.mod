module github.com/anpikit/anpi/examples

go 1.26.0

require github.com/anpikit/anpi v0.0.0

replace github.com/anpikit/anpi => ..
