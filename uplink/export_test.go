package uplink

// DecodeProtocolMemory is exported for the fuzz target.
func DecodeProtocolMemory(b []byte) (broker, protocol string, err error) {
	m, err := decodeProtocolMemory(b)
	return m.Broker, m.Protocol, err
}

// ProtocolFile is the name of the file under StateDir.
const ProtocolFile = protocolFile
