module reconcilekit.local/bench/images

go 1.23.0

require github.com/Masterminds/semver/v3 v3.3.1
