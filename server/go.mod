module github.com/gatehouse-dev/gatehouse/server

go 1.25.0

require (
	github.com/BurntSushi/toml v1.4.0
	github.com/chromedp/chromedp v0.23.0
	github.com/gatehouse-dev/gatehouse v0.0.0
	github.com/gatehouse-dev/gatehouse/demo v0.0.0
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/mitchellh/mapstructure v1.5.0
	github.com/traefik/paerser v0.2.2
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/MicahParks/keyfunc/v3 v3.9.1 // indirect
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.12.0 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace (
	github.com/gatehouse-dev/gatehouse => ../
	github.com/gatehouse-dev/gatehouse/demo => ../demo
)
