using Vmm.Abstractions;

namespace Vmm.Core.Costs;

/// <summary>
/// Modelled cost of each counted event in nanoseconds, bound from `options` keys "cost.*" (for example
/// "cost.tlbShootdown": 3000; names as `vmm plugins` lists them, matched exactly). Defaults and their sources: docs/costs.md.
/// </summary>
public sealed class CostOptions
{
    public const string Section = "cost";

    [Option("Minor page fault handled in the host (ns); order of a few hundred ns on x86-64 [assumption].")]
    public double PageFault { get; set; } = 500;
    [Option("One 4-level page-table walk after a TLB miss (ns) [assumption: ~4 cached loads].")]
    public double PageWalk { get; set; } = 20;
    [Option("TLB hit (ns).")]
    public double TlbHit { get; set; } = 0.5;
    [Option("TLB miss bookkeeping (ns), on top of the walk.")]
    public double TlbMiss { get; set; } = 1;
    [Option("IPI-based TLB shootdown (ns): ~1-3 us round trip (docs/costs.md).")]
    public double TlbShootdown { get; set; } = 1500;
    [Option("EPT violation exit and KVM fault handling (ns) [assumption].")]
    public double EptFault { get; set; } = 2000;
    [Option("Two-dimensional walk on an EPT TLB miss (ns) [assumption].")]
    public double EptWalk { get; set; } = 60;
    [Option("One get_user_pages call (ns) [assumption].")]
    public double Gup { get; set; } = 150;
    [Option("64-byte line read from DRAM (ns) [assumption: ~80 ns miss latency].")]
    public double LineRead { get; set; } = 80;
    [Option("64-byte line write (ns) [assumption].")]
    public double LineWrite { get; set; } = 80;
    [Option("MAC computation or check per line (ns): not published, modelled as a few ns (docs/costs.md).")]
    public double MacCompute { get; set; } = 3;
    [Option("Full-line re-initialisation store, MOVDIR64B (ns): 4 KiB at ~10 GB/s = 0.4 us per page (docs/costs.md).")]
    public double LineReinit { get; set; } = 6.25;
    [Option("Flush of one page's cache lines for the old KeyID (ns) [assumption].")]
    public double CacheFlush { get; set; } = 1000;
    [Option("Private/shared conversion of one 4 KiB page (ns): several to tens of us (docs/costs.md).")]
    public double Conversion { get; set; } = 10000;
    [Option("Signal delivery to a process (ns) [assumption].")]
    public double Signal { get; set; } = 2000;
    [Option("memory_failure() handling (ns): tens of us with LMCE (docs/costs.md).")]
    public double MemoryFailure { get; set; } = 20000;
    [Option("One rmap walk (ns) [assumption].")]
    public double RmapWalk { get; set; } = 200;
    [Option("Changing one PTE during try_to_unmap (ns) [assumption].")]
    public double Unmap { get; set; } = 100;
    [Option("split_huge_pmd/split_huge_page (ns) [assumption].")]
    public double ThpSplit { get; set; } = 20000;
    [Option("A failed THP split (ns) [assumption].")]
    public double ThpSplitFailed { get; set; } = 2000;
    [Option("khugepaged collapse of 2 MiB (ns) [assumption: copy of 512 pages].")]
    public double ThpCollapse { get; set; } = 200000;
    [Option("One PMD re-installed over a PTE-mapped THP without a copy, collapse_pte_mapped_thp (ns) [assumption: a table page freed and a shootdown].")]
    public double ThpPmdRemap { get; set; } = 3000;
    [Option("Frame allocation (ns) [assumption].")]
    public double FrameAlloc { get; set; } = 100;
    [Option("Frame free (ns) [assumption].")]
    public double FrameFree { get; set; } = 80;
    [Option("4 KiB copy (ns): 4 KiB at ~10 GB/s.")]
    public double PageCopy { get; set; } = 400;
    [Option("Machine-check handling (ns): tens of us (LMCE) to ms (broadcast) (docs/costs.md).")]
    public double MachineCheck { get; set; } = 50000;
    [Option("Hypercall round trip (ns) [assumption].")]
    public double Hypercall { get; set; } = 1500;
    [Option("VM exit to userspace (ns) [assumption].")]
    public double VmExit { get; set; } = 5000;
    [Option("One DMA transfer setup (ns) [assumption].")]
    public double DmaTransfer { get; set; } = 1000;
    [Option("RMPUPDATE of one RMP entry (ns) [assumption: a few hundred ns per instruction plus the RMP line write].")]
    public double RmpUpdate { get; set; } = 500;
    [Option("PSMASH of a 2 MiB RMP entry into 512 entries (ns) [assumption].")]
    public double Psmash { get; set; } = 2000;
    [Option("Split of a 2 MiB direct-map leaf around an RMP-assigned page (ns) [assumption: like a PMD split].")]
    public double DirectMapSplit { get; set; } = 5000;
    [Option("A poisoned frame leaked on free (K24): counted, not timed (memory lost, not time spent).")]
    public double FrameLeaked { get; set; }
    [Option("A frame kept allocated only by hwpoison entries' references after the page cache dropped it (K27): counted, not timed.")]
    public double FrameKeptByHwpEntry { get; set; }
    [Option("kvm->mmu_lock taken for write and released on the fault path (ns) [assumption: an uncontended rwlock write pair, ~2 cache-line transfers]; the contention it causes between vCPUs is not modelled.")]
    public double MmuLockWrite { get; set; } = 40;
    [Option("A VMM store to guest memory bounced through the kernel (ns): one system call round trip with its GUP [assumption: ~1 us]; the second copy is counted apart as pageCopy per page.")]
    public double BouncedWrite { get; set; } = 1000;

    /// <summary>The table as an array indexed by <see cref="CostKind"/>.</summary>
    public double[] ToTable()
    {
        var kinds = Enum.GetValues<CostKind>();
        var table = new double[kinds.Length];
        foreach (var kind in kinds)
        {
            var property = typeof(CostOptions).GetProperty(kind.ToString())
                ?? throw new InvalidOperationException($"CostOptions lacks a property for {kind}.");
            table[(int)kind] = (double)property.GetValue(this)!;
        }
        return table;
    }
}
