using Vmm.Abstractions;
using Vmm.Core.Costs;

namespace Vmm.Core.Machine;

/// <summary>
/// The host's memory management: the frame table and allocator (mm/page_alloc.c), page references
/// (get_page / put_page, mm/swap.c), installing and zapping leaves (mm/memory.c, zap_pte_range), the reverse
/// map and try_to_unmap (mm/rmap.c), and kernel loads/stores through the direct map. Every change to a
/// process's mappings is reported to the <see cref="Machine.MmuNotifier"/>.
/// </summary>
internal sealed class MemoryManager
{
    private readonly HostKernel _kernel;
    private readonly CostLedger _ledger;
    private readonly IFrameLifecyclePolicy _lifecycle;
    private readonly IMemoryController _memory;
    private readonly MmuNotifier _notifier;
    private readonly List<RmapEntry> _rmapScratch = [];
    private readonly Stack<List<RmapEntry>> _listPool = new();

    public MemoryManager(HostKernel kernel, long frameCount, PhysicalMemory physicalMemory)
    {
        _kernel = kernel;
        _ledger = kernel.CostLedger;
        _lifecycle = kernel.FrameLifecyclePolicy;
        _memory = kernel.Memory;
        _notifier = kernel.MmuNotifier;
        Frames = new FrameTable(frameCount);
        Allocator = new FrameAllocator(Frames);
        Rmap = new Rmap(Frames);
        PhysicalMemory = physicalMemory;
        PhysicalMemory.Bind(frameCount);
    }

    internal FrameTable Frames { get; }
    internal FrameAllocator Allocator { get; }
    internal Rmap Rmap { get; }
    internal PhysicalMemory PhysicalMemory { get; }

    /// <summary>The frame a leaf maps at <paramref name="va"/> (a subpage of a 2 MiB leaf).</summary>
    internal static Pfn LeafPfn(PteValue entry, MappingSize size, ulong va)
        => size == MappingSize.Size2M ? entry.Pfn.Add((long)((va >> PageGeometry.PageShift) & (PageGeometry.PagesPerHuge - 1))) : entry.Pfn;


    public FrameFlags GetFlags(Pfn pfn) => Frames.Flags(pfn);
    public void SetFlags(Pfn pfn, FrameFlags flags) => Frames.SetFlags(pfn, flags);
    public void ClearFlags(Pfn pfn, FrameFlags flags) => Frames.ClearFlags(pfn, flags);
    public VmId GetOwner(Pfn pfn) => Frames.Owner(pfn);
    public void SetOwner(Pfn pfn, VmId owner) => Frames.SetOwner(pfn, owner);
    public int RefCount(Pfn pfn) => Frames.RefCountOf(Head(pfn));

    /// <summary>page_mapcount.</summary>
    public int MapCount(Pfn pfn)
    {
        // Frames.MapCount counts 4 KiB mappings of this frame; 2 MiB mappings are counted on the head's rmap.
        var count = Frames.MapCountOf(pfn);
        var head = Frames.Has(pfn, FrameFlags.Compound) ? Head(pfn) : pfn;
        if (Frames.Has(head, FrameFlags.Compound) || Frames.Has(head, FrameFlags.Hugetlb))
        {
            _rmapScratch.Clear();
            Rmap.Collect(head, _rmapScratch);
            foreach (var e in _rmapScratch)
                if (e.Size == MappingSize.Size2M) count++;
        }
        return count;
    }

    /// <summary>compound_head: the frame that holds the reference count for THP/hugetlb subpages.</summary>
    internal Pfn Head(Pfn pfn) => Frames.Has(pfn, FrameFlags.Compound) ? new Pfn(pfn.Value & ~(ulong)(PageGeometry.PagesPerHuge - 1)) : pfn;

    public void GetPage(Pfn pfn)
    {
        if (pfn == FrameAllocator.ZeroPage) return;
        Frames.AddRefCount(Head(pfn), 1);
    }

    public void PutPage(Pfn pfn)
    {
        if (pfn == FrameAllocator.ZeroPage) return;
        var head = Head(pfn);
        var rc = Frames.RefCountOf(head);
        if (rc <= 0) throw new InvalidOperationException($"put_page on {head} with refcount {rc}: reference counting bug.");
        if (Frames.AddRefCount(head, -1) == 0) FreeFrame(head);
    }

    /// <summary>alloc_page.</summary>
    internal Pfn AllocateFrame()
    {
        var pfn = Allocator.Allocate();
        if (pfn.IsValid) _ledger.Add(CostKind.FrameAlloc);
        return pfn;
    }

    /// <summary>The last reference went away: free the frame (or the compound run), or leak it when poisoned (K24).</summary>
    private void FreeFrame(Pfn head)
    {
        var compound = Frames.Has(head, FrameFlags.Compound);
        var count = compound ? PageGeometry.PagesPerHuge : 1;
        var leakedAny = false;
        for (var i = 0; i < count; i++)
        {
            var pfn = head.Add(i);
            var action = _lifecycle.OnFree(new FreedFrame(pfn));
            if (Frames.Has(pfn, FrameFlags.HwPoison))
            {
                if (action != FreeAction.ClearPoisonAndFree)
                {
                    // K24: a poisoned frame never returns to the allocator; a leak unless it really is bad (then offlining it is the point).
                    Frames.SetFlags(pfn, FrameFlags.Offlined);
                    if (!Frames.Has(pfn, FrameFlags.RealError)) _ledger.Add(CostKind.FrameLeaked);
                    Frames.ClearFlags(pfn, FrameFlags.Compound);
                    leakedAny = true;
                    continue;
                }
                Frames.ClearFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.RealError);
            }
            _memory.OnFrameFreed(pfn);
            PhysicalMemory.Discard(pfn);
            Frames.Reset(pfn, FrameFlags.None);
            Allocator.Free(pfn);
            _ledger.Add(CostKind.FrameFree);
        }
        if (compound && !leakedAny) Allocator.FreeHugeRun(head);
    }


    /// <summary>Installs a present leaf and accounts it (refcount, mapcount, rmap). The caller holds no extra reference.</summary>
    internal void MapFrame(Process p, Hva va, Pfn pfn, MappingSize size, bool writable, bool protNone = false)
    {
        var entry = protNone ? PteValue.ProtNoneLeaf(pfn, size) : PteValue.Leaf(pfn, writable, size);
        p.PageTable.Set(va.Value, entry, size);
        if (pfn == FrameAllocator.ZeroPage) return;
        GetPage(pfn);
        if (size == MappingSize.Size4K) Frames.AddMapCount(pfn, 1);
        Rmap.Add(pfn, p.Pid, va.Value, size);
    }

    /// <summary>Removes one leaf (present, PROT_NONE or swap) and drops what it held (zap_pte_range for one entry).</summary>
    internal void ZapEntry(Process p, Hva va, PteValue entry, MappingSize size)
    {
        p.PageTable.Set(va.Value, PteValue.None, size);
        if (entry.MapsFrame)
        {
            var pfn = entry.Pfn;
            p.Tlb.Invalidate(va.Value, size == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize);
            if (pfn == FrameAllocator.ZeroPage) return;
            Rmap.Remove(pfn, p.Pid, va.Value);
            if (size == MappingSize.Size4K) Frames.AddMapCount(pfn, -1);
            if (entry.IsDirty || entry.IsWritable) Frames.SetFlags(pfn, FrameFlags.Dirty);
            PutPage(pfn);
        }
        else if (entry.IsHwPoison)
        {
            var pfn = entry.SwapPfn;
            if (Frames.HwpEntryRefsOf(pfn) > 0)
            {
                Frames.HwpEntryRefs(pfn)--;
                PutPage(pfn);
            }
        }
    }

    /// <summary>
    /// zap_page_range: zaps [start, end) of a process (munmap, MADV_DONTNEED, exit): every leaf dropped, one
    /// shootdown, EPTs notified. With <paramref name="evenCows"/> false (unmap_mapping_range from a hole punch)
    /// hwpoison entries stay, as zap_pte_range leaves them when !should_zap_cows (K27).
    /// </summary>
    internal void ZapRange(Process p, Hva start, Hva end, bool evenCows = true)
    {
        var leaves = new List<(ulong Va, PteValue Entry, MappingSize Size)>();
        p.PageTable.Visit(start.Value, end.Value, (va, entry, size) =>
        {
            leaves.Add((va, entry, size));
            return true;
        });
        var anyPresent = false;
        foreach (var (va, entry, size) in leaves)
        {
            if (size == MappingSize.Size2M && (va < start.Value || va + PageGeometry.HugeSize > end.Value))
            {
                // A partial zap of a 2 MiB leaf splits it first (zap_pmd_range → __split_huge_pmd).
                if (entry.IsPresent && !Frames.Has(entry.Pfn, FrameFlags.Hugetlb))
                {
                    _kernel.HugeMemory.SplitHugePmdAt(p, va);
                    ZapRange(p, new Hva(Math.Max(start.Value, va)), new Hva(Math.Min(end.Value, va + PageGeometry.HugeSize)), evenCows);
                    continue;
                }
            }
            if (!evenCows && entry.IsHwPoison) continue;
            anyPresent |= entry.IsPresent;
            ZapEntry(p, new Hva(va), entry, size);
        }
        if (anyPresent) ShootDown(p, start, end.Value - start.Value);
        _notifier.InvalidateRange(p, start, end);
    }

    /// <summary>flush_tlb_range: every CPU drops the process's translations of the range.</summary>
    internal void ShootDown(Process p, Hva va, ulong bytes)
    {
        p.Tlb.Invalidate(va.Value, bytes);
        _ledger.Add(CostKind.TlbShootdown);
    }

    /// <summary>try_to_unmap: change every host mapping of <paramref name="pfn"/>; returns how many changed.</summary>
    public int TryToUnmap(Pfn pfn, UnmapFlags flags)
    {
        _ledger.Add(CostKind.RmapWalk);
        _rmapScratch.Clear();
        Rmap.Collect(pfn, _rmapScratch);
        var head = Head(pfn);
        if (head != pfn)
        {
            var from = _rmapScratch.Count;
            Rmap.Collect(head, _rmapScratch);
            for (var i = from; i < _rmapScratch.Count; i++)
                if (_rmapScratch[i].Size != MappingSize.Size2M) _rmapScratch.RemoveAt(i--);
        }
        // A pooled copy: unmapping changes the rmap (and may re-enter through put_page → free hooks).
        var targets = _listPool.Count > 0 ? _listPool.Pop() : new List<RmapEntry>();
        targets.Clear();
        targets.AddRange(_rmapScratch);
        var changed = 0;
        foreach (var (pid, mappedVa, size) in targets)
        {
            var p = _kernel.FindProcess(pid);
            if (p is null) continue;
            var va = mappedVa;
            var isHugetlb = Frames.Has(head, FrameFlags.Hugetlb);
            if (size == MappingSize.Size2M && !isHugetlb)
            {
                if ((flags & UnmapFlags.SplitHugePmd) == 0) continue;
                _kernel.HugeMemory.SplitHugePmdAt(p, va);
                va = mappedVa + ((pfn.Value - head.Value) << PageGeometry.PageShift);
            }
            var entry = p.PageTable.Lookup(va, out var actual);
            if (!entry.MapsFrame) continue;
            var target = entry.Pfn;
            p.PageTable.Set(va, (flags & UnmapFlags.HwPoison) != 0 ? PteValue.HwPoisonEntry(target) : PteValue.None, actual);
            Rmap.Remove(target, pid, va);
            if (actual == MappingSize.Size4K) Frames.AddMapCount(target, -1);
            if ((flags & UnmapFlags.KeepReference) != 0 && (flags & UnmapFlags.HwPoison) != 0) Frames.HwpEntryRefs(target)++;
            else PutPage(target);
            _ledger.Add(CostKind.Unmap);
            ShootDown(p, new Hva(va), actual == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize);
            _notifier.InvalidateRange(p, new Hva(va), new Hva(va + (actual == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize)));
            changed++;
        }
        _listPool.Push(targets);
        return changed;
    }

    /// <summary>rmap_walk: every (process, address) that maps <paramref name="pfn"/>, 2 MiB leaves included.</summary>
    public IReadOnlyList<(int Pid, Hva Hva)> Mappings(Pfn pfn)
    {
        var list = new List<RmapEntry>();
        Rmap.Collect(pfn, list);
        var head = Head(pfn);
        if (head != pfn)
        {
            var huge = new List<RmapEntry>();
            Rmap.Collect(head, huge);
            foreach (var h in huge)
                if (h.Size == MappingSize.Size2M) list.Add(h with { Va = h.Va + ((pfn.Value - head.Value) << PageGeometry.PageShift) });
        }
        return list.Select(e => (e.Pid, new Hva(e.Va))).ToList();
    }


    /// <summary>
    /// A host kernel load/store through the direct map; poison consumed here panics the host (H7). With
    /// <see cref="Requester.Seam"/> it is the TDX module using the TD's KeyID: consumed poison is the
    /// platform's unbreakable shutdown (H9).
    /// </summary>
    internal KernelResult KernelAccess(Pfn pfn, int offset, Span<byte> buffer, bool write, Requester requester = Requester.HostKernel, KeyId key = default)
    {
        foreach (var span in new PageSpans((ulong)offset, buffer))
        {
            var frame = pfn.Add((long)span.PageIndex);
            var access = new LineAccess(frame, span.PageOffset, key, requester);
            _kernel.StepFrames.Note(frame);
            var result = write ? _memory.Write(access, span.Chunk) : _memory.Read(access, span.Chunk);
            if (!result.IsOk)
            {
                if (requester == Requester.Device) return Outcome.Error(Errno.EIO); // H14: the transfer fails
                if (requester == Requester.Seam)
                {
                    _ledger.Add(CostKind.MachineCheck);
                    return _kernel.Fault(KernelEvent.Of(KernelEventKind.Shutdown, $"#MC in SEAM root: poison consumed by the TDX module at {frame} line {result.Line}; TDX is disabled"));
                }
                if (result.Status == MemStatus.AccessFault)
                    return _kernel.Fault(KernelEvent.Of(KernelEventKind.HostPanic, $"kernel oops: RMP fault on {frame}"));
                _ledger.Add(CostKind.MachineCheck);
                return _kernel.Fault(KernelEvent.Of(KernelEventKind.HostPanic, $"poison consumed in kernel context at {frame} line {result.Line}"));
            }
        }
        return write ? Outcome.Ok() : Outcome.OkData(buffer.ToArray());
    }
}
