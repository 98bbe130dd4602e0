package mq

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// pulsarURLEnv names a real Pulsar broker for the Pulsar conformance run
// (e.g. pulsar://127.0.0.1:6650). There is no in-process Pulsar, so the
// suite is skipped without it. It creates topics named conf-* in
// public/default and deletes them afterwards through the admin API at
// pulsarWebEnv (default http://{host}:8080).
const (
	pulsarURLEnv = "MILVUS_CDC_TEST_PULSAR_URL"
	pulsarWebEnv = "MILVUS_CDC_TEST_PULSAR_WEB_URL"
)

type realPulsar struct {
	url            string
	web            string
	producerClient pulsar.Client
}

func newRealPulsar(t *testing.T) *realPulsar {
	url := os.Getenv(pulsarURLEnv)
	if url == "" {
		t.Skipf("set %s to run the Pulsar conformance suite against a real broker", pulsarURLEnv)
	}
	c, err := pulsar.NewClient(pulsar.ClientOptions{URL: url, OperationTimeout: 30 * time.Second})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	web := os.Getenv(pulsarWebEnv)
	if web == "" {
		host := strings.TrimPrefix(strings.TrimPrefix(url, "pulsar://"), "pulsar+ssl://")
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		web = "http://" + net.JoinHostPort(host, "8080")
	}
	return &realPulsar{url: url, web: web, producerClient: c}
}

// channel names a fresh channel and deletes its topic when the test ends,
// so a shared broker is left as it was.
func (p *realPulsar) channel(t *testing.T) string {
	ch := uniqueChannel()
	t.Cleanup(func() {
		req, err := http.NewRequest(http.MethodDelete, p.web+"/admin/v2/persistent/public/default/"+ch+"?force=true", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Logf("delete topic %s: %v", ch, err)
			return
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
			t.Logf("delete topic %s: HTTP %d", ch, resp.StatusCode)
		}
	})
	return ch
}

func (p *realPulsar) client(t *testing.T) Client {
	c, err := NewPulsarClient(PulsarConfig{URL: p.url}, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// produce writes like Milvus's producers: no batching, ZSTD.
func (p *realPulsar) produce(t *testing.T, channel string, payload []byte, props map[string]string) []byte {
	prod, err := p.producerClient.CreateProducer(pulsar.ProducerOptions{
		Topic: "persistent://public/default/" + channel, DisableBatching: true,
		CompressionType: pulsar.ZSTD, CompressionLevel: pulsar.Faster,
	})
	require.NoError(t, err)
	defer prod.Close()
	id, err := prod.Send(context.Background(), &pulsar.ProducerMessage{Payload: payload, Properties: props})
	require.NoError(t, err)
	return id.Serialize()
}

func (p *realPulsar) sameID(t *testing.T, a, b []byte) bool {
	ia, err := pulsar.DeserializeMessageID(a)
	require.NoError(t, err)
	ib, err := pulsar.DeserializeMessageID(b)
	require.NoError(t, err)
	return samePulsarMessage(ia, ib)
}

func (p *realPulsar) expire(*testing.T, string, int) bool { return false }

func TestPulsarConformance(t *testing.T) {
	runConformance(t, newRealPulsar(t))
}

func TestPulsarConfigErrors(t *testing.T) {
	_, err := NewPulsarClient(PulsarConfig{URL: "http://127.0.0.1:8080"}, nil)
	require.ErrorContains(t, err, "source.mq.pulsar.address")
	_, err = NewPulsarClient(PulsarConfig{URL: "pulsar://127.0.0.1:6650", AuthPlugin: "no-such-plugin"}, nil)
	require.ErrorContains(t, err, "source.mq.pulsar.authPlugin")
	c, err := NewPulsarClient(PulsarConfig{URL: "pulsar://127.0.0.1:6650", Tenant: "t1", Namespace: "ns"}, nil)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, "persistent://t1/ns/by-dev-rootcoord-dml_0", c.Topic("by-dev-rootcoord-dml_0"))
	d, err := NewPulsarClient(PulsarConfig{URL: "pulsar://127.0.0.1:6650"}, nil)
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, "persistent://public/default/by-dev-replicate-msg", d.Topic("by-dev-replicate-msg"))
}
