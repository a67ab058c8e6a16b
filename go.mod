module github.com/anpikit/anpi

go 1.26.0

require (
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/text v0.31.0 // indirect
)
