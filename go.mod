module github.com/gatehouse-dev/gatehouse

go 1.22

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	gopkg.in/yaml.v3 v3.0.1
)
