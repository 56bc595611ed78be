import Prometheus

/// Registry calls by full metric name and help text (the names here already carry their units).
extension PrometheusCollectorRegistry {
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    func gauge(_ name: String, _ labels: [(String, String)], help: String) -> Gauge {
        makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
    }

    func counter(_ name: String, _ labels: [(String, String)], help: String) -> Counter {
        makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
    }

    func durationHistogram(_ name: String, _ labels: [(String, String)], buckets: [Duration], help: String) -> DurationHistogram {
        makeDurationHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: buckets)
    }
}
