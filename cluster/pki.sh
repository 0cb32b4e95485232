# Certificates and kubeconfigs of the bundled cluster (one CA, a cert per component and node).
# Sourced by cluster.sh (uses its helpers and config); not run on its own.
# shellcheck shell=bash
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
gen_ca() { # <name> <cn>
  gen_key "$PKI/$1.key"
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -out "$PKI/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
}
# gen_cert <ca> <name> <subject> <client|server|both> [sans]
gen_cert() {
  local ca=$1 name=$2 subj=$3 usage=$4 sans=${5:-} ext
  gen_key "$PKI/$name.key"
  case $usage in client) ext=clientAuth ;; server) ext=serverAuth ;; both) ext=serverAuth,clientAuth ;; esac
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$ext"
    [ -z "$sans" ] || echo "subjectAltName=$sans"
  } > "$PKI/$name.ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

write_kubeconfig() { # <file> <user> <cert-name>
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: svc-conformance
  cluster:
    server: https://$(api_host):$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$3.crt")
    client-key-data: $(base64 -w0 "$PKI/$3.key")
contexts:
- name: svc-conformance
  context: {cluster: svc-conformance, user: $2}
current-context: svc-conformance
EOF
  chmod 600 "$1"
}

make_pki() {
  mkdir -p "$PKI"; chmod 700 "$PKI"
  local svc_ip; svc_ip=$(first_service_ip)
  gen_ca ca kubernetes
  gen_ca etcd-ca etcd-ca
  gen_cert etcd-ca etcd-server "/CN=etcd" server "IP:127.0.0.1,DNS:localhost"
  gen_cert etcd-ca apiserver-etcd-client "/CN=kube-apiserver-etcd-client" client
  gen_cert ca apiserver "/CN=kube-apiserver" server \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,IP:$svc_ip,IP:$(bridge_ip),IP:127.0.0.1$(has_family IPv4 && has_family IPv6 && echo ",IP:$(first_service_ip IPv4),IP:$(first_service_ip IPv6),IP:$(bridge_ip4),IP:$(bridge_ip6)")"
  gen_cert ca apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" client
  gen_cert ca admin "/O=system:masters/CN=kubernetes-admin" client
  gen_cert ca controller-manager "/CN=system:kube-controller-manager" client
  gen_cert ca scheduler "/CN=system:kube-scheduler" client
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  local n
  for n in $(seq 1 "$NODES"); do
    gen_cert ca "node-$n" "/O=system:nodes/CN=system:node:$(node_name "$n")" client
    gen_cert ca "node-$n-serving" "/CN=$(node_name "$n")" server "DNS:$(node_name "$n"),$(node_ips "$n" | sed 's/^/IP:/; s/,/,IP:/g')"
  done
  write_kubeconfig "$KUBECONFIG_PATH" kubernetes-admin admin
  write_kubeconfig "$STATE_DIR/controller-manager.conf" system:kube-controller-manager controller-manager
  write_kubeconfig "$STATE_DIR/scheduler.conf" system:kube-scheduler scheduler
  for n in $(seq 1 "$NODES"); do
    mkdir -p "$(node_dir "$n")"
    write_kubeconfig "$(node_dir "$n")/kubelet.conf" "system:node:$(node_name "$n")" "node-$n"
  done
}

first_service_ip() { # [IPv4|IPv6] (default: the primary family): 10.96.0.0/16 -> 10.96.0.1, fd00:10:96::/112 -> fd00:10:96::1
  if [ "${1:-$PRIMARY_FAMILY}" = IPv6 ]; then echo "$(cidr6_prefix "$SERVICE_CIDR_V6")::1"; return; fi
  local base=${SERVICE_CIDR%/*}; echo "${base%.*}.$(( ${base##*.} + 1 ))"
}
