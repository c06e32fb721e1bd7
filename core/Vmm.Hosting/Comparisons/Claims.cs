using Vmm.Core.Comparisons;

namespace Vmm.Hosting;

/// <summary>How a claim came out in a comparison.</summary>
public enum ClaimStatus
{
    /// <summary>The runs show what the claim says.</summary>
    Holds,

    /// <summary>The runs show the opposite.</summary>
    Refuted,

    /// <summary>The comparison lacks the workload or stacks, or the engine does not count what the claim is about.</summary>
    NotMeasured,
}

/// <summary>One of the 2021 reviewers' claims, settled by numbers from the runs: what it says, who said it (list message), the workload that tests it, the verdict and the numbers behind it.</summary>
public sealed record ClaimVerdict(string Id, string Claim, string Source, string Workload, ClaimStatus Status, string Evidence)
{
    public string StatusText => Status switch
    {
        ClaimStatus.Holds => "holds",
        ClaimStatus.Refuted => "refuted",
        _ => "not measured",
    };
}

/// <summary>
/// The review thread's claims (docs/compare.md, "Claims"), each a rule over the comparison's tables. A claim whose
/// workload or stacks the comparison lacks is "not measured", with what it needs; none is decided without numbers.
/// </summary>
internal static class Claims
{
    private sealed record Rule(string Id, string Claim, string Source, string Workload, Func<WorkloadTable, (ClaimStatus, string)> Decide)
    {
        /// <summary>The data-dependent metric the verdict rests on, if any: a contents-free run cannot decide the claim.</summary>
        public string? NeedsContents { get; init; }
    }

    private static readonly Rule[] Rules =
    [
        new("vmm-write-crashes-host",
            "Without kernel protection, a VMM write to TD-private memory can crash the host; a design must prevent it.",
            "Hildenbrand, c5f2580d-0733-4523-d1e8-c43b487f0aaf@redhat.com",
            "malicious-vmm",
            table =>
            {
                var unprotected = Find(table, "tdx-ci+none");
                if (unprotected is null) return Missing("tdx-ci+none");
                var crashes = Sum(unprotected, RunMetrics.HostPanics, RunMetrics.Shutdowns);
                var protectedRows = table.Rows.Where(r => r.Stack.StartsWith("tdx-ci+", StringComparison.Ordinal) && r != unprotected).ToList();
                var crashing = protectedRows.Where(r => Sum(r, RunMetrics.HostPanics, RunMetrics.Shutdowns) > 0).Select(r => r.Stack).ToList();
                var evidence = $"tdx-ci+none: {N(crashes)} host panics or shutdowns; " + List(protectedRows, r => $"{N(Sum(r, RunMetrics.HostPanics, RunMetrics.Shutdowns))}");
                return (crashes > 0 ? ClaimStatus.Holds : ClaimStatus.Refuted,
                    evidence + (crashing.Count > 0 ? $"; still crashing: {string.Join(", ", crashing)}" : ""));
            }),
        new("real-errors-indistinguishable",
            "Under the RFC as posted, real hardware poison and policy poison look the same: the VMM is not told of a real error apart from a private-page touch.",
            "Hildenbrand, 5e934d94-414c-90de-c58e-34456e4ab1cf@redhat.com; Jue Wang, CAPcxDJ6tkcgruegNfgPCjA3pS+-Q1iEGAZQejPhzOdx4x9cDnA@mail.gmail.com",
            "memory-errors",
            table =>
            {
                var posted = Find(table, "tdx-ci+hwpoison-v2");
                var tracked = Find(table, "tdx-ci+hwpoison-v2,hwpoison.trackReason=true");
                if (posted is null || tracked is null) return Missing("tdx-ci+hwpoison-v2 and tdx-ci+hwpoison-v2,hwpoison.trackReason=true");
                var (told, toldTracked) = (Mean(posted, RunMetrics.EarlyWarnings), Mean(tracked, RunMetrics.EarlyWarnings));
                return (told < toldTracked ? ClaimStatus.Holds : ClaimStatus.Refuted,
                    $"SIGBUS AO (the VMM told of a real error): hwpoison-v2 {N(told)}, with trackReason {N(toldTracked)}; lost errors {N(Mean(posted, RunMetrics.UnreportedErrors))} and {N(Mean(tracked, RunMetrics.UnreportedErrors))}");
            }),
        new("foll-allow-poisoned",
            "FOLL_ALLOW_POISONED is dangerous: KVM's own GUP-based copy still reaches private pages; only flows that map the pfn into the guest should use it.",
            "Hildenbrand, 5e934d94-414c-90de-c58e-34456e4ab1cf@redhat.com; Christopherson, YHnJtvXdrZE+AfM3@google.com",
            "malicious-vmm",
            table =>
            {
                // On TDX hardware KVM's shared-KeyID copy of a private page returns zeros, so only plain memory shows what the copy reached.
                var rows = table.Rows.Where(r => r.Stack.StartsWith("plain+hwpoison", StringComparison.Ordinal)).ToList();
                if (rows.Count == 0) return Missing("a plain+hwpoison stack (under tdx-ci the copy reads zeros, so the data cannot show what it reached)");
                return (rows.Any(r => Mean(r, RunMetrics.KvmPlaintext) > 0) ? ClaimStatus.Holds : ClaimStatus.Refuted,
                    "private bytes KVM's own copy returned: " + List(table.Rows, r => N(Mean(r, RunMetrics.KvmPlaintext))));
            }) { NeedsContents = RunMetrics.KvmPlaintext },
        new("prealloc-needs-conversion",
            "Unmapping on fault is not enough: CSPs pre-allocate guest memory, so the VMM's existing mappings must be converted.",
            "Shutemov, 20210409133347.r2uf3u5g55pp27xn@box",
            "prealloc",
            table =>
            {
                var open = Find(table, "plain+none") ?? Find(table, "tdx-ci+none");
                if (open is null) return Missing("plain+none or tdx-ci+none");
                var leaking = table.Rows.Where(r => Mean(r, RunMetrics.PlaintextBytes) > 0).Select(r => r.Stack).ToList();
                return (Mean(open, RunMetrics.PlaintextBytes) > 0 || leaking.Count > 0 ? ClaimStatus.Holds : ClaimStatus.Refuted,
                    "plaintext bytes read through pre-boot mappings: " + List(table.Rows, r => N(Mean(r, RunMetrics.PlaintextBytes))));
            }) { NeedsContents = RunMetrics.PlaintextBytes },
        new("struct-page-one-guest",
            "Tracking through struct page cannot enforce one page per guest.",
            "Lutomirski, via 37d70069-b59f-04c7-f9af-a08af18d0339@redhat.com",
            "two-vms",
            table =>
            {
                // Only plain memory leaves the kernel's tracking alone against the other guest: TDX's PAMT and SNP's RMP enforce 1:1 in hardware.
                var tracked = table.Rows.Where(r => r.Stack.StartsWith("plain+hwpoison", StringComparison.Ordinal)).ToList();
                if (tracked.Count == 0) return Missing("a plain+hwpoison stack (under tdx-ci and sev-snp the hardware enforces one owner per page)");
                return (tracked.Any(r => Mean(r, RunMetrics.CrossVm) > 0) ? ClaimStatus.Holds : ClaimStatus.Refuted,
                    "bytes of td1's data td2 read through the shared backing: " + List(table.Rows, r => N(Mean(r, RunMetrics.CrossVm)))
                    + " (one page in two guests only; one pfn at two gfns of one guest is not tested)");
            }) { NeedsContents = RunMetrics.CrossVm },
        new("thp-todo",
            "THP support is missing: a PMD cannot hold a hwpoison entry, so a private 4 KiB page inside a THP costs a split (or the THP).",
            "Shutemov, 20210416154106.23721-1-kirill.shutemov@linux.intel.com",
            "thp-heavy",
            table =>
            {
                var rows = table.Rows.Where(r => r.Stack.Contains("hwpoison", StringComparison.Ordinal)).ToList();
                if (rows.Count == 0) return Missing("a hwpoison stack");
                return (rows.Any(r => Mean(r, RunMetrics.ThpSplits) > 0) ? ClaimStatus.Holds : ClaimStatus.Refuted,
                    "huge pages split: " + List(table.Rows, r => N(Mean(r, RunMetrics.ThpSplits))));
            }),
        new("mmu-lock-write-does-not-scale",
            "Taking mmu_lock for write in the page-fault path does not scale: the RFC's gfn_is_shared takes it on every protected fault, which serialises faults the TDP MMU runs concurrently.",
            "Christopherson, YHnJtvXdrZE+AfM3@google.com",
            "virtio-io",
            table =>
            {
                var rfc = table.Rows.Where(r => r.Stack.Contains("hwpoison", StringComparison.Ordinal)).ToList();
                if (rfc.Count == 0) return Missing("a hwpoison stack");
                // The premise is counted; the scaling loss is not: the engine runs one vCPU at a time, so no contention is simulated.
                var evidence = "write acquisitions per EPT fault: " + List(table.Rows, r => PerFault(r))
                    + " (counted; the contention between vCPUs that makes it not scale is not simulated)";
                return (rfc.Any(r => Mean(r, RunMetrics.MmuLockWrites) > 0) ? ClaimStatus.Holds : ClaimStatus.Refuted, evidence);
            }),
        new("bounced-writes-collapse-virtio",
            "Bouncing VMM writes through the kernel (Hildenbrand's PROT_READ proposal) collapses virtio throughput: at least halves it, i.e. doubles the workload's modelled time.",
            "Kleen, 87v98yuo3z.fsf@linux.intel.com",
            "virtio-io",
            table =>
            {
                var bounced = table.Rows.Where(r => Mean(r, RunMetrics.BouncedWrites) > 0).ToList();
                if (bounced.Count == 0) return Missing("a stack whose VMM writes are bounced (policy bounce-writes)");
                // Against the same memory without protection, so the ratio is the bounce's alone.
                var pairs = bounced.Select(r => (Row: r, Direct: Find(table, MemoryOf(r.Stack) + "+none"))).Where(p => p.Direct is not null).ToList();
                if (pairs.Count == 0) return Missing(string.Join(" or ", bounced.Select(r => MemoryOf(r.Stack) + "+none")));
                var ratios = pairs.Select(p => (p.Row, p.Direct, Ratio: Mean(p.Row, RunMetrics.ModelledMicroseconds) / Math.Max(Mean(p.Direct!, RunMetrics.ModelledMicroseconds), double.Epsilon))).ToList();
                return (ratios.Any(r => r.Ratio >= 2) ? ClaimStatus.Holds : ClaimStatus.Refuted,
                    string.Join("; ", ratios.Select(r => $"{r.Row.Stack}: {N(Mean(r.Row, RunMetrics.BouncedWrites))} bounced writes, modelled time {r.Ratio:0.00}× {r.Direct!.Stack}'s, "
                        + $"{N((Mean(r.Row, RunMetrics.ModelledMicroseconds) - Mean(r.Direct!, RunMetrics.ModelledMicroseconds)) / Mean(r.Row, RunMetrics.BouncedWrites))} µs more per write"))
                    + " (from the cost table: cost.bouncedWrite and cost.pageCopy per bounce)");
            }),
    ];

    public static IReadOnlyList<ClaimVerdict> Of(IReadOnlyList<WorkloadTable> tables)
    {
        var verdicts = new List<ClaimVerdict>();
        foreach (var rule in Rules)
        {
            var table = tables.FirstOrDefault(t => t.Workload == rule.Workload);
            var (status, evidence) = table is null ? (ClaimStatus.NotMeasured, $"needs the {rule.Workload} workload in the comparison")
                : rule.NeedsContents is { } metric && table.Rows.Any(r => double.IsNaN(Mean(r, metric)))
                    ? (ClaimStatus.NotMeasured, $"needs {metric}, which a contents-free run (memory.contents=none) cannot count: it is found in the bytes, and none are kept")
                    : rule.Decide(table);
            verdicts.Add(new ClaimVerdict(rule.Id, rule.Claim, rule.Source, rule.Workload, status, evidence));
        }
        return verdicts;
    }

    private static (ClaimStatus, string) Missing(string stacks) => (ClaimStatus.NotMeasured, $"needs {stacks} among the stacks");

    private static StackRow? Find(WorkloadTable table, string stack) => table.Rows.FirstOrDefault(r => r.Stack == stack);

    private static double Mean(StackRow row, string metric) => row.Metrics.TryGetValue(metric, out var value) ? value.Mean : 0;

    private static double Sum(StackRow row, params string[] metrics) => metrics.Sum(m => Mean(row, m));

    private static string N(double value) => Conclusions.Number(value);

    private static string MemoryOf(string stack) => stack.Split('+', 2)[0];

    private static string PerFault(StackRow row)
    {
        var (writes, faults) = (Mean(row, RunMetrics.MmuLockWrites), Mean(row, RunMetrics.EptFaults));
        return faults > 0 ? $"{writes / faults:0.##} ({N(writes)}/{N(faults)})" : N(writes);
    }

    private static string List(IEnumerable<StackRow> rows, Func<StackRow, string> value) => string.Join(", ", rows.Select(r => $"{r.Stack} {value(r)}"));
}
