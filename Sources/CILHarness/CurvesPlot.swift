import Foundation

/// curves.svg: accuracy on all seen classes and on the phase-0 classes per phase, for CNN
/// and NME, with axes, ticks and a legend. Hand-written SVG so it needs no plotting
/// library and is byte-stable.
enum CurvesPlot {
    struct Series {
        var label: String
        var values: [Double]
        var colour: String
        var dashed: Bool
    }

    static func svg(_ r: RunResult) -> String {
        var series = [
            Series(label: "CNN, all seen classes", values: r.cnn.accuracyCurve, colour: "#1f77b4", dashed: false),
            Series(label: "CNN, phase-0 classes", values: r.cnn.forgettingCurve, colour: "#1f77b4", dashed: true),
        ]
        if let nme = r.nme {
            series.insert(Series(label: "NME, all seen classes", values: nme.accuracyCurve, colour: "#d62728", dashed: false), at: 1)
            series.append(Series(label: "NME, phase-0 classes", values: nme.forgettingCurve, colour: "#d62728", dashed: true))
        }
        return svg(title: "\(r.protocolName) · \(r.methodLabel) · seed \(r.seed)", series: series)
    }

    static func svg(title: String, series: [Series]) -> String {
        let width = 640.0, height = 420.0
        let left = 60.0, right = 210.0, top = 40.0, bottom = 50.0
        let plotW = width - left - right, plotH = height - top - bottom
        let phases = series.map(\.values.count).max() ?? 1
        // The y range: whole tens with a little room around the data, so points never sit on the frame.
        let all = series.flatMap(\.values)
        let low = max(0, (((all.min() ?? 0) - 2) / 10).rounded(.down) * 10)
        let high = min(100, max(low + 10, (((all.max() ?? 100) + 2) / 10).rounded(.up) * 10))
        func x(_ k: Int) -> Double { phases <= 1 ? left + plotW / 2 : left + plotW * Double(k) / Double(phases - 1) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (v - low) / (high - low)) }
        func n(_ v: Double) -> String { String(format: "%.1f", v) }

        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(n(left + plotW / 2))" y="22" text-anchor="middle" font-size="14">\(escape(title))</text>

            """
        // Grid and y ticks every 10 points (every 5 when the range is small).
        let step = high - low <= 30 ? 5.0 : 10.0
        var tick = low
        while tick <= high + 1e-9 {
            s += "<line x1=\"\(n(left))\" y1=\"\(n(y(tick)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(y(tick)))\" stroke=\"#dddddd\"/>\n"
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(y(tick) + 4))\" text-anchor=\"end\">\(Int(tick))</text>\n"
            tick += step
        }
        let every = max(1, (phases + 9) / 10)
        for k in stride(from: 0, to: phases, by: every) {
            s += "<line x1=\"\(n(x(k)))\" y1=\"\(n(top + plotH))\" x2=\"\(n(x(k)))\" y2=\"\(n(top + plotH + 5))\" stroke=\"black\"/>\n"
            s += "<text x=\"\(n(x(k)))\" y=\"\(n(top + plotH + 18))\" text-anchor=\"middle\">\(k)</text>\n"
        }
        s += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(plotW))\" height=\"\(n(plotH))\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(height - 10))\" text-anchor=\"middle\">phase</text>\n"
        s += "<text transform=\"translate(16 \(n(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">top-1 accuracy (%)</text>\n"
        for line in series {
            let points = line.values.enumerated().map { "\(n(x($0.offset))),\(n(y($0.element)))" }.joined(separator: " ")
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            s += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(line.colour)\" stroke-width=\"2\"\(dash)/>\n"
            for (k, v) in line.values.enumerated() {
                s += "<circle cx=\"\(n(x(k)))\" cy=\"\(n(y(v)))\" r=\"3\" fill=\"\(line.dashed ? "white" : line.colour)\" stroke=\"\(line.colour)\"/>\n"
            }
        }
        // Legend to the right of the plot.
        for (i, line) in series.enumerated() {
            let ly = top + 10 + Double(i) * 22
            let lx = left + plotW + 15
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            s += "<line x1=\"\(n(lx))\" y1=\"\(n(ly))\" x2=\"\(n(lx + 28))\" y2=\"\(n(ly))\" stroke=\"\(line.colour)\" stroke-width=\"2\"\(dash)/>\n"
            s += "<text x=\"\(n(lx + 34))\" y=\"\(n(ly + 4))\">\(escape(line.label))</text>\n"
        }
        return s + "</svg>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
