#!/usr/bin/env bash
# bench/compare.sh — etcdpki against what people use instead, in one run on
# one machine (issue 7):
#
#   generate the same kubeadm-layout certificate set (etcd CA; per member
#   server, peer, healthcheck-client, apiserver-etcd-client) for 3 and 7
#   members, rsa-2048 and ecdsa-p256, with
#     (a) etcdpki init
#     (b) cfssl, one gencert per certificate (as etcd's hack/tls-setup does)
#     (c) a plain openssl command script
#   verify a 100-member PKI with
#     (a) etcdpki check
#     (b) an openssl script doing the same subset: chain, SAN IPs, EKU, expiry
#
# Every figure is the median whole-process wall time of RUNS runs (default
# 5). Each tool's output is itself checked with `etcdpki check` first, so
# the three really make the same, working set.
#
# Usage: bench/compare.sh [RUNS]     (installs golang-cfssl and openssl when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-5}

if ! command -v cfssl >/dev/null || ! command -v cfssljson >/dev/null || ! command -v openssl >/dev/null; then
	echo "installing golang-cfssl and openssl (Debian)..." >&2
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-cfssl openssl >/dev/null
fi

bin=$(build_etcdpki)
work=$(mktemp -d)
trap 'rm -rf "$work" "$(dirname "$bin")"' EXIT

member_ip() { echo "10.0.$(($1 / 250)).$(($1 % 250 + 1))"; }

# ---------- (a) etcdpki ----------
gen_etcdpki() { # ALGO N OUT
	local args=() i
	for i in $(seq 1 "$2"); do args+=(--member "m$i=$(member_ip "$i")"); done
	"$bin" init --algo "$1" --out "$3" "${args[@]}"
}

# ---------- (b) cfssl, one gencert per certificate ----------
cfssl_key() { # ALGO
	case $1 in
	rsa-2048) echo '{"algo":"rsa","size":2048}' ;;
	ecdsa-p256) echo '{"algo":"ecdsa","size":256}' ;;
	esac
}
gen_cfssl() { # ALGO N OUT
	local key out=$3 i ip m
	key=$(cfssl_key "$1")
	mkdir -p "$out/ca"
	cat >"$out/ca-config.json" <<-EOF
		{"signing":{"default":{"expiry":"8760h"},"profiles":{
		 "server":{"expiry":"8760h","usages":["signing","key encipherment","server auth","client auth"]},
		 "client":{"expiry":"8760h","usages":["signing","key encipherment","client auth"]}}}}
	EOF
	echo "{\"CN\":\"etcd-ca\",\"key\":$key,\"ca\":{\"expiry\":\"87600h\"}}" >"$out/ca-csr.json"
	(cd "$out/ca" && cfssl gencert -initca ../ca-csr.json 2>/dev/null | cfssljson -bare ca && mv ca.pem ca.crt && mv ca-key.pem ca.key)
	for i in $(seq 1 "$2"); do
		m=m$i ip=$(member_ip "$i")
		local d="$out/$m/etc/kubernetes/pki"
		mkdir -p "$d/etcd"
		cp "$out/ca/ca.crt" "$out/ca/ca.key" "$d/etcd/"
		echo "{\"CN\":\"$m\",\"hosts\":[\"$m\",\"localhost\",\"$ip\",\"127.0.0.1\",\"::1\"],\"key\":$key}" >"$out/$m.json"
		echo "{\"CN\":\"kube-etcd-healthcheck-client\",\"key\":$key}" >"$out/hc.json"
		echo "{\"CN\":\"kube-apiserver-etcd-client\",\"names\":[{\"O\":\"system:masters\"}],\"key\":$key}" >"$out/api.json"
		local spec
		for spec in "server:$m.json:etcd/server" "server:$m.json:etcd/peer" "client:hc.json:etcd/healthcheck-client" "client:api.json:apiserver-etcd-client"; do
			IFS=: read -r profile csr dest <<<"$spec"
			cfssl gencert -ca="$out/ca/ca.crt" -ca-key="$out/ca/ca.key" -config="$out/ca-config.json" -profile="$profile" "$out/$csr" 2>/dev/null |
				cfssljson -bare "$d/$dest"
			mv "$d/$dest.pem" "$d/$dest.crt"
			mv "$d/$dest-key.pem" "$d/$dest.key"
			rm -f "$d/$dest.csr"
		done
	done
	chmod 600 "$out"/*/etc/kubernetes/pki/*.key "$out"/*/etc/kubernetes/pki/etcd/*.key "$out"/ca/*.key
}

# ---------- (c) openssl commands ----------
openssl_key() { # ALGO FILE
	case $1 in
	rsa-2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$2" 2>/dev/null ;;
	ecdsa-p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2" 2>/dev/null ;;
	esac
}
openssl_leaf() { # ALGO CA_DIR BASE SUBJ EXT_FILE
	openssl_key "$1" "$3.key"
	openssl req -new -key "$3.key" -subj "$4" -out "$3.csr" 2>/dev/null
	openssl x509 -req -in "$3.csr" -CA "$2/ca.crt" -CAkey "$2/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
		-days 365 -sha256 -extfile "$5" -out "$3.crt" 2>/dev/null
	rm -f "$3.csr"
}
gen_openssl() { # ALGO N OUT
	local out=$3 i ip m
	mkdir -p "$out/ca"
	openssl_key "$1" "$out/ca/ca.key"
	openssl req -x509 -new -key "$out/ca/ca.key" -subj "/CN=etcd-ca" -days 3650 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-out "$out/ca/ca.crt" 2>/dev/null
	printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=clientAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$out/client.ext"
	for i in $(seq 1 "$2"); do
		m=m$i ip=$(member_ip "$i")
		local d="$out/$m/etc/kubernetes/pki"
		mkdir -p "$d/etcd"
		cp "$out/ca/ca.crt" "$out/ca/ca.key" "$d/etcd/"
		printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth,clientAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" \
			"subjectAltName=DNS:$m,DNS:localhost,IP:$ip,IP:127.0.0.1,IP:::1" >"$out/$m.ext"
		openssl_leaf "$1" "$out/ca" "$d/etcd/server" "/CN=$m" "$out/$m.ext"
		openssl_leaf "$1" "$out/ca" "$d/etcd/peer" "/CN=$m" "$out/$m.ext"
		openssl_leaf "$1" "$out/ca" "$d/etcd/healthcheck-client" "/CN=kube-etcd-healthcheck-client" "$out/client.ext"
		openssl_leaf "$1" "$out/ca" "$d/apiserver-etcd-client" "/O=system:masters/CN=kube-apiserver-etcd-client" "$out/client.ext"
	done
	chmod 600 "$out"/*/etc/kubernetes/pki/*.key "$out"/*/etc/kubernetes/pki/etcd/*.key "$out"/ca/*.key
}

# ---------- verification of 100 members by openssl ----------
# The subset etcdpki check also does: every leaf chains to the member's CA,
# server and peer certs name the member's IP and 127.0.0.1, EKUs, and no
# certificate expires within 30 days.
check_openssl() { # DIR N
	local dir=$1 i d ip f
	for i in $(seq 1 "$2"); do
		d="$dir/m$i/etc/kubernetes/pki"
		ip=$(member_ip "$i")
		openssl verify -CAfile "$d/etcd/ca.crt" "$d/etcd/server.crt" "$d/etcd/peer.crt" \
			"$d/etcd/healthcheck-client.crt" "$d/apiserver-etcd-client.crt" >/dev/null || return 1
		for f in server peer; do
			openssl x509 -in "$d/etcd/$f.crt" -noout -ext subjectAltName,extendedKeyUsage >"$dir/.ext" || return 1
			grep -q "IP Address:$ip\b" "$dir/.ext" && grep -q "IP Address:127.0.0.1" "$dir/.ext" || return 1
			grep -q "TLS Web Server Authentication, TLS Web Client Authentication" "$dir/.ext" || return 1
		done
		for f in etcd/healthcheck-client apiserver-etcd-client; do
			openssl x509 -in "$d/$f.crt" -noout -ext extendedKeyUsage | grep -q "TLS Web Client Authentication" || return 1
		done
		for f in etcd/ca etcd/server etcd/peer etcd/healthcheck-client apiserver-etcd-client; do
			openssl x509 -in "$d/$f.crt" -noout -checkend 2592000 >/dev/null || return 1
		done
	done
}

spec_for() { # N FILE: a spec with the members' addresses, for checking others' output
	{
		echo "members:"
		for i in $(seq 1 "$1"); do echo "- {name: m$i, ips: [$(member_ip "$i")]}"; done
	} >"$2"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", b / a }'; }

printf '# etcdpki vs cfssl vs openssl — %s, %s cores, %s\n\n' "$(uname -m)" "$(nproc)" "$(date -u +%Y-%m-%d)"
printf 'versions: %s; cfssl %s; %s\n' "$("$bin" --version 2>/dev/null || echo "etcdpki (this tree)")" \
	"$(cfssl version 2>/dev/null | head -1 | awk '{print $2}')" "$(openssl version)"
printf 'median wall time of %d whole-process runs each\n\n' "$runs"
printf '| task | etcdpki | cfssl | openssl script | cfssl/etcdpki | openssl/etcdpki |\n|---|---|---|---|---|---|\n'

for algo in ecdsa-p256 rsa-2048; do
	for n in 3 7; do
		# Sanity first: each tool's output checks clean with etcdpki.
		for tool in etcdpki cfssl openssl; do
			out="$work/sanity-$tool-$algo-$n"
			"gen_$tool" "$algo" "$n" "$out" >/dev/null
			spec_for "$n" "$work/spec-$n.yaml"
			dirs=()
			for i in $(seq 1 "$n"); do dirs+=("$out/m$i"); done
			if ! "$bin" check --config "$work/spec-$n.yaml" --fail-on warning "${dirs[@]}" >"$work/sanity.txt"; then
				echo "the $tool output ($algo, $n members) does not check clean:" >&2
				cat "$work/sanity.txt" >&2
				exit 1
			fi
		done
		gen_run() { rm -rf "$work/run"; "gen_$1" "$algo" "$n" "$work/run"; }
		t_e=$(median_ms "$runs" gen_run etcdpki)
		t_c=$(median_ms "$runs" gen_run cfssl)
		t_o=$(median_ms "$runs" gen_run openssl)
		printf '| init, %d members, %s | %s ms | %s ms | %s ms | %s | %s |\n' "$n" "$algo" "$t_e" "$t_c" "$t_o" "$(ratio "$t_e" "$t_c")" "$(ratio "$t_e" "$t_o")"
	done
done

n=100
gen_etcdpki ecdsa-p256 "$n" "$work/check100" >/dev/null
check_run() { "$bin" check "$work/check100"; }
openssl_run() { check_openssl "$work/check100" "$n"; }
check_run >/dev/null
openssl_run || { echo "the openssl check script rejects a clean PKI" >&2; exit 1; }
t_e=$(median_ms "$runs" check_run)
t_o=$(median_ms "$runs" openssl_run)
printf '| check, %d members (ecdsa-p256) | %s ms | — | %s ms | — | %s |\n' "$n" "$t_e" "$t_o" "$(ratio "$t_e" "$t_o")"
