using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Comparisons;

/// <summary>What a metric is about, in the order a comparison table shows the groups.</summary>
public enum MetricGroup
{
    Safety,
    Availability,
    Cost,
}

/// <summary>One metric a comparison reports: its column name, group, and what it counts (for the legend).</summary>
public sealed record MetricDefinition(string Name, MetricGroup Group, string Description, bool LowerIsBetter = true)
{
    /// <summary>Counted from the bytes a step returned: not available (NaN) in a contents-free run, which keeps none.</summary>
    public bool NeedsContents { get; init; }
}

/// <summary>
/// The metrics of one run, every one counted from what the engine observed (outcomes, data returned, the cost
/// ledger), none estimated. <see cref="Definitions"/> names them in table order.
/// </summary>
public static class RunMetrics
{
    public const string HostPanics = "panics";
    public const string Shutdowns = "shutdowns";
    public const string GuestsKilled = "killed";
    public const string PlaintextBytes = "leaked B";
    public const string SilentCorruptions = "corrupt";
    public const string CrossVm = "cross-VM B";
    public const string UnreportedErrors = "lost err";
    public const string KvmPlaintext = "kvm B";
    public const string SigBus = "SIGBUS";
    public const string EarlyWarnings = "AO";
    public const string Efault = "EFAULT";
    public const string Eio = "EIO";
    public const string Exits = "exits";
    public const string GuestMce = "vMCE";
    public const string ModelledMicroseconds = "model µs";
    public const string Conversions = "convs";
    public const string TlbShootdowns = "shootdowns";
    public const string EptFaults = "EPT faults";
    public const string MmuLockWrites = "mmu_lock W";
    public const string BouncedWrites = "bounced";
    public const string ThpSplits = "splits";
    public const string HugeCoverage = "huge ‰";
    public const string PageTableKiB = "PT KiB";
    public const string TlbReach = "TLB ents";
    public const string FramesKept = "kept frames";
    public const string FramesLeaked = "leaked frames";
    public const string PeakFrames = "peak frames";

    public static IReadOnlyList<MetricDefinition> Definitions { get; } =
    [
        new(HostPanics, MetricGroup.Safety, "host panics (a kernel or host access consumed poison)"),
        new(Shutdowns, MetricGroup.Safety, "unbreakable shutdowns (the TDX module consumed poison)"),
        new(GuestsKilled, MetricGroup.Safety, "guests killed (each VM counted once)"),
        new(PlaintextBytes, MetricGroup.Safety, "guest-private bytes a host-side op (VMM, host kernel, device) received in plaintext: secret words the guest wrote, found in the data a host op returned") { NeedsContents = true },
        new(SilentCorruptions, MetricGroup.Safety, "guest reads that succeeded with data other than what the guest last wrote there") { NeedsContents = true },
        new(CrossVm, MetricGroup.Safety, "bytes of another VM's private data a guest read (one backing mapped into two VMs)") { NeedsContents = true },
        new(UnreportedErrors, MetricGroup.Safety, "real memory errors (hw.memory-error) whose page was used again without anyone being told: no MCE SIGBUS, vMCE, EIO, EHWPOISON, guest kill, panic or shutdown at that page"),
        new(KvmPlaintext, MetricGroup.Safety, "of the leaked bytes, those KVM's own copy_from_guest returned (kernel.read requester kvm: GUP on the VMM's mapping, the FOLL_ALLOW_POISONED path)") { NeedsContents = true },
        new(SigBus, MetricGroup.Availability, "SIGBUS delivered to the VMM (any si_code)"),
        new(EarlyWarnings, MetricGroup.Availability, "SIGBUS BUS_MCEERR_AO: the VMM told of a memory error it has not consumed (early kill, or an error kept apart from policy poison)"),
        new(Efault, MetricGroup.Availability, "EFAULT returned (GUP, syscalls on guest memory, KVM_RUN)"),
        new(Eio, MetricGroup.Availability, "EIO returned (page-cache access)"),
        new(Exits, MetricGroup.Availability, "KVM exits to the VMM (MEMORY_FAULT and others)"),
        new(GuestMce, MetricGroup.Availability, "machine checks delivered to the guest"),
        new(ModelledMicroseconds, MetricGroup.Cost, "modelled time of everything counted, from the cost table, in microseconds"),
        new(Conversions, MetricGroup.Cost, "private/shared conversions done"),
        new(TlbShootdowns, MetricGroup.Cost, "TLB shootdowns"),
        new(EptFaults, MetricGroup.Cost, "EPT violations KVM handled (guest faults that reached the fault path)"),
        new(BouncedWrites, MetricGroup.Cost, "VMM stores to guest memory bounced through the kernel (one system call each, plus a copy per page)"),
        new(MmuLockWrites, MetricGroup.Cost, "kvm->mmu_lock taken for write on the EPT fault path (the RFC's gfn_is_shared, twice per private fault); the TDP MMU's own fault path takes it for read, so any count here serialises concurrent vCPU faults"),
        new(ThpSplits, MetricGroup.Cost, "huge pages split"),
        new(HugeCoverage, MetricGroup.Cost, "per mille of thp: true guest memory the VMM maps with 2 MiB leaves at the end of the run", LowerIsBetter: false),
        new(PageTableKiB, MetricGroup.Cost, "the VMM's page-table memory at the end of the run, KiB"),
        new(TlbReach, MetricGroup.Cost, "TLB entries needed to cover what the VMM maps of thp: true guests (one per present leaf)"),
        new(FramesKept, MetricGroup.Cost, "frames the page cache let go that only hwpoison entries keep allocated (K27)"),
        new(FramesLeaked, MetricGroup.Cost, "poisoned frames never returned to the allocator (K24)"),
        new(PeakFrames, MetricGroup.Cost, "the most host frames in use at once, the zero page included (page tables are counted apart, in PT KiB): a design's peak memory"),
    ];

    /// <summary>
    /// The metrics of <paramref name="result"/>, a run of <paramref name="scenario"/>, by <see cref="MetricDefinition.Name"/>;
    /// of a contents-free run, the metrics that need the bytes are NaN: not available, rather than a zero nobody counted.
    /// </summary>
    public static IReadOnlyDictionary<string, double> Of(Scenario scenario, ScenarioResult result)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(result);
        var counts = Definitions.ToDictionary(d => d.Name, _ => 0.0, StringComparer.Ordinal);
        // Real memory errors not yet reported, by the frame they hit (under guest_memfd a gpa has two), whether anyone touched
        // that frame since, and the (vm, page) they were at: a report there (a SIGBUS at that address, EIO) tells of them.
        var pending = new Dictionary<ulong, bool>();
        var pendingAt = new Dictionary<ulong, (string Vm, ulong Page)>();
        var reported = new HashSet<ulong>();
        var killed = new HashSet<string>(StringComparer.Ordinal);
        var ops = scenario.Steps.ToDictionary(s => s.Index, s => s.Op);
        foreach (var step in result.Steps)
        {
            var actual = step.Actual;
            var at = ops.TryGetValue(step.Index, out var op) ? op.At : default;
            var page = at.Vm is { } vm && at.Gpa is { } gpa ? (vm, gpa / PageGeometry.PageSize) : ((string, ulong)?)null;
            switch (actual.Kind)
            {
                case OutcomeKind.HostPanic: counts[HostPanics]++; break;
                case OutcomeKind.Shutdown: counts[Shutdowns]++; break;
                // A dead guest's later steps all say so: count the guest once.
                case OutcomeKind.GuestKilled when at.Vm is null || killed.Add(at.Vm): counts[GuestsKilled]++; break;
                case OutcomeKind.SigBus:
                    counts[SigBus]++;
                    if (actual.SigBusCode == SigBusCode.BUS_MCEERR_AO) counts[EarlyWarnings]++;
                    break;
                case OutcomeKind.KvmExit: counts[Exits]++; break;
                case OutcomeKind.GuestMce: counts[GuestMce]++; break;
                case OutcomeKind.Errno when actual.Errno == Errno.EFAULT: counts[Efault]++; break;
                case OutcomeKind.Errno when actual.Errno == Errno.EIO: counts[Eio]++; break;
            }
            if (actual.Kind == OutcomeKind.Ok && actual.Data is { } data)
            {
                if (step.Op == "guest.read" && at.Vm is { } reader)
                    counts[CrossVm] += GuestSecret.CountForeign(data, (byte)scenario.Vms.FindIndex(v => v.Name == reader)) * GuestSecret.WordSize;
                if (op is KernelRead { Requester: "kvm" }) counts[KvmPlaintext] += GuestSecret.Count(data) * GuestSecret.WordSize;
                // The TDX module is inside the TD's trust boundary: what it reads with the TD's key is not the host's to see.
                if (IsHostSide(step.Op) && op is not KernelRead { Requester: "seam" }) counts[PlaintextBytes] += GuestSecret.Count(data) * GuestSecret.WordSize;
                if (step.Expected is { Kind: OutcomeKind.Ok, Data: { } expected } && !expected.AsSpan().SequenceEqual(data)) counts[SilentCorruptions]++;
            }

            if (actual.EndsMachine) pending.Clear();
            else if (step.Op == "hw.memory-error")
            {
                // Early kill (AO) or an action-required error reports at once; otherwise the error waits for its frame's next access.
                // memory_failure()'s own EHWPOISON ("already poisoned") tells nobody, unless the frame is bad from an error already reported.
                // No frame noted: the op poisoned nothing (no frame there).
                if (step.Frames.Count == 0) continue;
                var frame = step.Frames[0];
                var hidden = actual is { Kind: OutcomeKind.Errno, Errno: Errno.EHWPOISON } && !reported.Contains(frame);
                // An error that went unreported: handled silently (ok) or hidden.
                if (actual.Kind == OutcomeKind.Ok || hidden)
                {
                    pending[frame] = false;
                    if (page is { } failed) pendingAt[frame] = failed;
                }
                else if (Reports(actual)) reported.Add(frame);
            }
            else if (step.Op == "hw.unpoison")
            {
                // unpoison_memory() is asked for by someone who knows of the error, and the frame is good again.
                foreach (var frame in step.Frames)
                {
                    pending.Remove(frame);
                    reported.Remove(frame);
                }
            }
            else if (pending.Count > 0)
            {
                var tells = Reports(actual) || actual.Kind == OutcomeKind.GuestKilled;
                // Only a read or write that went through consumed or replaced the data; inspect, conversions or a refused access did not.
                var uses = actual.Kind == OutcomeKind.Ok && AccessesData(step.Op);
                foreach (var frame in pending.Keys.ToList())
                {
                    var reached = step.Frames.Contains(frame);
                    if (tells && (reached || (page is { } here && pendingAt.TryGetValue(frame, out var errorAt) && errorAt == here)))
                    {
                        pending.Remove(frame);
                        reported.Add(frame);
                    }
                    else if (uses && reached) pending[frame] = true;
                }
            }
        }
        // An error whose page was used again and nobody was told: the data was consumed or replaced silently.
        counts[UnreportedErrors] = pending.Values.Count(accessed => accessed);
        counts[ModelledMicroseconds] = result.ModelledNanoseconds / 1000.0;
        counts[Conversions] = result.Costs.GetValueOrDefault(nameof(CostKind.Conversion));
        counts[TlbShootdowns] = result.Costs.GetValueOrDefault(nameof(CostKind.TlbShootdown));
        counts[EptFaults] = result.Costs.GetValueOrDefault(nameof(CostKind.EptFault));
        counts[MmuLockWrites] = result.Costs.GetValueOrDefault(nameof(CostKind.MmuLockWrite));
        counts[BouncedWrites] = result.Costs.GetValueOrDefault(nameof(CostKind.BouncedWrite));
        counts[ThpSplits] = result.Costs.GetValueOrDefault(nameof(CostKind.ThpSplit));
        counts[HugeCoverage] = result.Costs.GetValueOrDefault("ThpHugeMappedPermille");
        counts[PageTableKiB] = result.Costs.GetValueOrDefault("VmmPageTableBytes") / 1024.0;
        counts[TlbReach] = result.Costs.GetValueOrDefault("ThpTlbReachEntries");
        counts[FramesKept] = result.Costs.GetValueOrDefault(nameof(CostKind.FrameKeptByHwpEntry));
        counts[FramesLeaked] = result.Costs.GetValueOrDefault(nameof(CostKind.FrameLeaked));
        counts[PeakFrames] = result.PeakFramesInUse;
        if (result.ContentsFree)
            foreach (var definition in Definitions.Where(d => d.NeedsContents)) counts[definition.Name] = double.NaN;
        return counts;
    }

    /// <summary>Ops a host-side actor issues: what they receive must never be guest-private plaintext.</summary>
    public static bool IsHostSide(string op) =>
        op.StartsWith("host.", StringComparison.Ordinal) || op.StartsWith("kernel.", StringComparison.Ordinal) || op.StartsWith("device.", StringComparison.Ordinal);

    /// <summary>Ops that read or write a page's data (what a lost memory error is consumed or overwritten by).</summary>
    private static bool AccessesData(string op) => op is "guest.read" or "guest.write" or "host.read" or "host.write" or "host.pread" or "host.pwrite"
        or "host.procmem-read" or "host.procmem-write" or "host.process-vm-readv" or "kernel.read" or "kernel.write" or "device.dma-read" or "device.dma-write";

    /// <summary>Whether an outcome tells someone of a memory error.</summary>
    private static bool Reports(Outcome outcome) => outcome.Kind switch
    {
        OutcomeKind.SigBus => outcome.SigBusCode is SigBusCode.BUS_MCEERR_AR or SigBusCode.BUS_MCEERR_AO,
        OutcomeKind.GuestMce or OutcomeKind.HostPanic or OutcomeKind.Shutdown => true,
        OutcomeKind.Errno => outcome.Errno is Errno.EIO or Errno.EHWPOISON,
        OutcomeKind.KvmExit => outcome.Errno is Errno.EHWPOISON,
        _ => false,
    };
}
