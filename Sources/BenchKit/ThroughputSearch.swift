// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// ThroughputSearch: RFC 2544 throughput (section 26.1) by binary search over the offered rate,
// for two loss tolerances at once as FD.io CSIT does: NDR, the highest rate with zero loss, and
// PDR, the highest rate with loss at most `partialDropTolerance` (0.5% by default).
//
// The caller supplies the trial: send at a rate for some duration, count what arrived. The
// search keeps, per tolerance, the highest rate measured to pass and the lowest measured to
// fail, and runs every trial against both (a PDR failure is also an NDR failure; an NDR pass
// is also a PDR pass). Order of trials:
// 1. the maximum rate — if it passes, that is the answer (the bridge outran the generator);
// 2. the forwarding rate seen there (max × delivered / offered, the "MRR" guess): a bridge that
//    drops what it cannot carry forwards close to its capacity under overload;
// 3. per tolerance (PDR first, whose trials also narrow NDR), an exponential step away from the
//    bound that moved last — one resolution width, then 2, 4, ... while the same bound keeps
//    moving — capped at the interval's midpoint, so a good guess is bracketed in a few trials
//    and a bad one costs at most about twice plain bisection (CSIT's external search, then
//    bisection). It stops when the interval is within the resolution; an interval that reaches
//    the minimum rate is settled by a trial at the minimum itself.
// A trial contradicting an earlier one (a pass above a measured failure: noise) is logged but
// does not move the bounds. `maximumTrials` bounds the work; running out leaves `converged`
// false with the best bounds so far.
//
// The search assumes the trial reaches the rate it is asked for. The CLI should measure the
// generator's own maximum first (a max-rate trial into the lab without a bridge) and cap
// `maximumRate` there; each log entry keeps the trial's measured offered rate to check.

/// What one trial measured.
public struct TrialResult: Sendable, Equatable, Codable {
    /// Frames sent into the bridge.
    public var offered: UInt64
    /// Distinct test frames that came out.
    public var delivered: UInt64
    /// Measured frames/s actually offered, when the trial knows it.
    public var offeredRate: Double?

    public init(offered: UInt64, delivered: UInt64, offeredRate: Double? = nil) {
        self.offered = offered
        self.delivered = delivered
        self.offeredRate = offeredRate
    }

    /// (offered − delivered) / offered; 0 when nothing was offered or more arrived (duplicates).
    public var lossRatio: Double {
        offered == 0 || delivered >= offered ? 0 : Double(offered - delivered) / Double(offered)
    }
}

/// How close the bounds must be to stop.
public enum SearchResolution: Sendable, Equatable {
    /// Upper − lower bound at most this many frames/s.
    case framesPerSecond(Double)
    /// (Upper − lower) / upper at most this fraction (CSIT's "goal width", e.g. 0.005).
    case relative(Double)

    /// One resolution width at `rate`.
    func width(at rate: Double) -> Double {
        switch self {
        case .framesPerSecond(let w): return w
        case .relative(let r): return r * rate
        }
    }

    func isResolved(lower: Double, upper: Double) -> Bool {
        switch self {
        case .framesPerSecond(let w): return upper - lower <= w
        case .relative(let r): return upper - lower <= r * upper
        }
    }
}

/// One trial of a search.
public struct TrialRecord: Sendable, Equatable, Codable {
    /// The rate asked for, frames/s.
    public var rate: Double
    public var result: TrialResult
    /// Zero loss.
    public var passedNDR: Bool
    /// Loss within the PDR tolerance.
    public var passedPDR: Bool
}

/// The outcome for one loss tolerance.
public struct RateBound: Sendable, Equatable {
    /// The loss ratio allowed (0 for NDR).
    public var tolerance: Double
    /// The highest rate measured to pass: the throughput. Nil when even the minimum rate failed
    /// (or the search ran out of trials before any pass).
    public var rate: Double?
    /// The lowest rate measured to fail; nil when the maximum passed.
    public var lowestFailingRate: Double?
    /// The trial at `rate`.
    public var result: TrialResult?
    /// True when the bounds are within the resolution, the maximum passed, or the minimum failed.
    public var isResolved: Bool
}

/// What a search found, and how.
public struct ThroughputSearchResult: Sendable, Equatable {
    public var ndr: RateBound
    public var pdr: RateBound
    /// Every trial in order.
    public var trials: [TrialRecord]
    /// Both tolerances resolved within the trial budget.
    public var converged: Bool { ndr.isResolved && pdr.isResolved }
}

/// RFC 2544 / CSIT NDR and PDR search.
public struct ThroughputSearch: Sendable {
    public var minimumRate: Double
    public var maximumRate: Double
    public var resolution: SearchResolution
    /// Loss ratio PDR allows (CSIT: 0.005).
    public var partialDropTolerance: Double
    public var maximumTrials: Int

    public init(
        minimumRate: Double, maximumRate: Double, resolution: SearchResolution,
        partialDropTolerance: Double = 0.005, maximumTrials: Int = 20
    ) {
        precondition(minimumRate > 0 && minimumRate <= maximumRate, "need 0 < minimum rate <= maximum rate")
        precondition((0..<1).contains(partialDropTolerance), "PDR tolerance must lie in 0..<1")
        precondition(maximumTrials >= 1)
        self.minimumRate = minimumRate
        self.maximumRate = maximumRate
        self.resolution = resolution
        self.partialDropTolerance = partialDropTolerance
        self.maximumTrials = maximumTrials
    }

    /// Bounds for one tolerance while searching.
    private struct Interval {
        var tolerance: Double
        var pass: (rate: Double, result: TrialResult)?
        var fail: Double?
        /// Which bound moved last, and how many times in a row: the exponential step.
        var lastMovedPass: Bool?
        var streak = 0

        mutating func moved(pass: Bool) {
            streak = lastMovedPass == pass ? streak + 1 : 0
            lastMovedPass = pass
        }

        func passes(_ r: TrialResult) -> Bool {
            tolerance == 0 ? r.delivered >= r.offered : r.lossRatio <= tolerance
        }

        /// Moves the bounds for a trial at `rate`, unless it contradicts them.
        mutating func update(rate: Double, result: TrialResult) {
            if passes(result) {
                if fail.map({ rate < $0 }) ?? true, rate > (pass?.rate ?? -1) {
                    pass = (rate, result)
                    moved(pass: true)
                }
            } else {
                if pass.map({ rate > $0.rate }) ?? true, rate < (fail ?? .infinity) {
                    fail = rate
                    moved(pass: false)
                }
            }
        }
    }

    /// The next rate to try for `i`, or nil when it is settled.
    private func nextRate(_ i: Interval) -> Double? {
        guard let fail = i.fail else { return nil }  // the maximum passed
        if fail <= minimumRate { return nil }  // even the minimum failed
        // Nothing passed yet: search down towards the minimum, then try the minimum itself.
        let lower = i.pass?.rate ?? minimumRate
        if resolution.isResolved(lower: lower, upper: fail) { return i.pass == nil ? minimumRate : nil }
        let mid = (lower + fail) / 2
        let step = Double(1 << Swift.min(i.streak, 40))
        if i.lastMovedPass == true {
            return Swift.min(lower + resolution.width(at: lower) * step, mid)
        }
        return Swift.max(fail - resolution.width(at: fail) * step, mid)
    }

    private func bound(_ i: Interval) -> RateBound {
        RateBound(
            tolerance: i.tolerance, rate: i.pass?.rate, lowestFailingRate: i.fail, result: i.pass?.result,
            isResolved: nextRate(i) == nil)
    }

    /// Runs trials (at most `maximumTrials`) and returns NDR, PDR and the log.
    public func run(_ trial: (Double) throws -> TrialResult) rethrows -> ThroughputSearchResult {
        var ndr = Interval(tolerance: 0)
        var pdr = Interval(tolerance: partialDropTolerance)
        var log: [TrialRecord] = []

        func measure(_ rate: Double) throws {
            let r = try trial(rate)
            ndr.update(rate: rate, result: r)
            pdr.update(rate: rate, result: r)
            log.append(TrialRecord(rate: rate, result: r, passedNDR: ndr.passes(r), passedPDR: pdr.passes(r)))
        }

        try measure(maximumRate)
        if let first = log.first?.result, pdr.fail != nil, first.offered > 0, log.count < maximumTrials {
            // The forwarding rate under overload, a little under it so PDR's guess tends to pass.
            let forwarded = maximumRate * Double(first.delivered) / Double(first.offered)
            let guess = Swift.min(Swift.max(forwarded * (1 - partialDropTolerance / 2), minimumRate), maximumRate)
            if guess < maximumRate { try measure(guess) }
        }
        while log.count < maximumTrials {
            guard let rate = nextRate(pdr) ?? nextRate(ndr) else { break }
            try measure(rate)
        }
        return ThroughputSearchResult(ndr: bound(ndr), pdr: bound(pdr), trials: log)
    }
}
