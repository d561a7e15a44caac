# shellcheck shell=bash
# The scenarios' client of keel-control's HTTP API on its Unix socket, for shell and Python.
#
#   kt_api [curl options...] PATH      one request to http://keel/PATH on $SOCK (KT_SOCK=... for
#                                      another socket), 10 s at most unless --max-time says
#                                      otherwise (curl takes an option's last value); curl's exit
#                                      status, the body on stdout.
#   kt_api_code [curl options...] PATH as kt_api, and prints the HTTP status instead of the body
#                                      (the body goes to $KT_API_BODY when set, else nowhere).
#
# Python scripts import keel_http (this folder is on PYTHONPATH once lib.sh is sourced):
#   from keel_http import call, UnixHTTPConnection
KT_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PYTHONPATH="$KT_LIB${PYTHONPATH:+:$PYTHONPATH}"

kt_api() {
	local path=${!#}
	curl -sS --max-time 10 --unix-socket "${KT_SOCK:-$SOCK}" "${@:1:$#-1}" "http://keel$path"
}

kt_api_code() {
	local path=${!#}
	curl -s -o "${KT_API_BODY:-/dev/null}" -w '%{http_code}' --max-time 10 \
		--unix-socket "${KT_SOCK:-$SOCK}" "${@:1:$#-1}" "http://keel$path"
}
