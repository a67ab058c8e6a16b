module github.com/anpikit/anpi/examples

go 1.26.0

require github.com/anpikit/anpi v0.0.0

require (
	github.com/stretchr/testify v1.12.1
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/anpikit/anpi => ..
