using Vmm.Abstractions;

namespace Vmm.Plugins.SevSnp.Rmp;

/// <summary>
/// SEV-SNP memory (docs/semantics.md H12-H18; AMD APM vol. 2, 15.36 "Secure Nested Paging"): every access is checked
/// against the frame's RMP entry. A guest's private access needs the page assigned to its ASID at that gpa and
/// validated, else #VC; a host write to an assigned page takes an RMP #PF (userspace SIGBUS, kernel oops), as does a
/// host write through a 2 MiB mapping that covers any assigned page; a device write is blocked by the IOMMU; host and
/// device reads see ciphertext. No integrity per line: a DRAM bit flip is silent. Guests get ASIDs 1.. per VM.
/// </summary>
public sealed class SevSnpMemoryController(IPhysicalMemory memory, ICostLedger ledger) : IMemoryController
{
    private readonly RmpTable _rmp = new();
    private readonly GuestValidation _validation = new();
    private readonly Dictionary<ulong, ulong> _poison = [];
    private readonly Dictionary<int, ushort> _asids = [];

    /// <summary>RMP chunks in use (4 KiB each), for footprint reports and tests.</summary>
    internal int RmpChunks => _rmp.Chunks;

    internal RmpTable Rmp => _rmp;

    public KeyId AssignPrivateKey(VmId vm)
    {
        if (!_asids.TryGetValue(vm.Value, out var asid))
        {
            asid = (ushort)(_asids.Count + 1);
            _asids[vm.Value] = asid;
        }
        return new KeyId(asid);
    }

    public MemResult Read(in LineAccess access, Span<byte> destination)
    {
        ledger.Add(CostKind.LineRead, PageLines.Count(access.Offset, destination.Length));
        if (_poison.Count != 0 && _poison.TryGetValue(access.Pfn.Value, out var mask))
        {
            var line = PageLines.FirstSet(mask, access.Offset, destination.Length);
            if (line >= 0) return new MemResult(MemStatus.PoisonConsumed, line);
        }
        var entry = _rmp.Get(access.Pfn);
        if (access.Requester == Requester.Guest)
        {
            var check = CheckGuest(access, entry);
            if (!check.IsOk) return check;
        }
        var stored = memory.Peek(access.Pfn);
        if (stored.IsEmpty) destination.Clear();
        else stored.Slice(access.Offset, destination.Length).CopyTo(destination);
        // A never-written assigned page holds the ASID's encryption of zeros.
        var asid = entry.Asid;
        if (entry.IsAssigned && stored.IsEmpty && asid != 0) AsidCipher.Apply(asid, access.Pfn, access.Offset, destination);
        if (access.Requester == Requester.Guest && entry.IsAssigned) AsidCipher.Apply(asid, access.Pfn, access.Offset, destination);
        return MemResult.Ok;
    }

    public MemResult Write(in LineAccess access, ReadOnlySpan<byte> source)
    {
        ledger.Add(CostKind.LineWrite, PageLines.Count(access.Offset, source.Length));
        var entry = _rmp.Get(access.Pfn);
        if (access.Requester == Requester.Guest)
        {
            var check = CheckGuest(access, entry);
            if (!check.IsOk) return check;
            if (entry.IsAssigned)
            {
                var frame = FrameOf(access.Pfn, entry);
                var target = frame.Slice(access.Offset, source.Length);
                source.CopyTo(target);
                AsidCipher.Apply(entry.Asid, access.Pfn, access.Offset, target);
                return MemResult.Ok;
            }
        }
        else if (entry.IsAssigned || (access.Flags.HasFlag(AccessFlags.HugeMapping) && access.Requester == Requester.HostUser && _rmp.AnyAssignedAround(access.Pfn)))
        {
            // H12, H17, H18: RMP #PF for the CPU, RMP_PAGE_FAULT at the IOMMU; memory unchanged.
            return new MemResult(MemStatus.AccessFault, access.Offset >> PageGeometry.LineShift);
        }
        source.CopyTo(memory.Materialize(access.Pfn)[access.Offset..]);
        return MemResult.Ok;
    }

    public void Reinitialize(Pfn pfn, KeyId newKey)
    {
        ledger.Add(CostKind.LineReinit, PageGeometry.LinesPerPage);
        memory.Discard(pfn);
        _poison.Remove(pfn.Value);
        // To a private key the page was just assigned (AssignGuestPage) and now reads as zeros to its guest;
        // to the shared key it goes back to the hypervisor.
        if (newKey.IsShared) ReturnToHypervisor(pfn);
    }

    public GuestPageAssigned AssignGuestPage(in GuestPageAssignment assignment)
    {
        var asid = (ushort)assignment.Key.Value;
        var pfn = assignment.Pfn;
        var entry = _rmp.Get(pfn);
        // Already assigned at this gpa (a neighbour in a 2 MiB entry): nothing to update. Elsewhere: RMPUPDATE fails.
        if (entry.IsAssigned) return !entry.IsImmutable && entry.Asid == asid && entry.Gfn == assignment.Gfn ? GuestPageAssigned.Page : GuestPageAssigned.Refused;
        var inRun = (int)(pfn.Value & (PageGeometry.PagesPerHuge - 1));
        if (assignment.HostLeaf == MappingSize.Size2M && assignment.RangePrivate && inRun == (int)(assignment.Gfn.Value & (PageGeometry.PagesPerHuge - 1)) && !_rmp.AnyAssignedAround(pfn))
        {
            AssignHuge(asid, pfn.Add(-inRun), new Gfn(assignment.Gfn.Value - (ulong)inRun));
            return GuestPageAssigned.HugeRange;
        }
        // Linux splits its direct map to 4K around the first page it assigns in a 2 MiB range, so the host kernel
        // never faults on a shared neighbour (H17).
        if (!_rmp.AnyAssignedAround(pfn)) ledger.Add(CostKind.DirectMapSplit);
        // A gfn the guest validated before gets a new page without its knowledge: the entry stays not validated (H16).
        var validated = !_validation.Has(asid, assignment.Gfn);
        _rmp.Assign(pfn, asid, assignment.Gfn, validated, huge: false);
        if (validated) _validation.Add(asid, assignment.Gfn);
        ledger.Add(CostKind.RmpUpdate);
        return GuestPageAssigned.Page;
    }

    public void OnGuestPageStateChange(in GuestPageStateChange change)
    {
        // The guest rescinds validation before a page goes shared and validates afresh after the host assigns it
        // again, so the pages of a conversion it asked for are never mistaken for pages changed behind its back.
        if (change.Key.IsShared) return;
        _validation.Rescind((ushort)change.Key.Value, change.First, change.Pages);
    }

    public void PoisonLine(Pfn pfn, int line)
    {
        _poison.TryGetValue(pfn.Value, out var mask);
        _poison[pfn.Value] = mask | (1UL << line);
    }

    public void FlipBit(Pfn pfn, int line, int bit)
    {
        // SNP keeps no MAC: a flip changes the ciphertext and, through it, what the guest reads.
        var frame = FrameOf(pfn, _rmp.Get(pfn));
        frame[line * PageGeometry.LineSize + bit / 8] ^= (byte)(1 << (bit % 8));
    }

    public bool IsLinePoisoned(Pfn pfn, int line) => _poison.TryGetValue(pfn.Value, out var mask) && (mask & (1UL << line)) != 0;

    public int PoisonedLineCount(Pfn pfn) => _poison.TryGetValue(pfn.Value, out var mask) ? System.Numerics.BitOperations.PopCount(mask) : 0;

    public void OnFrameFreed(Pfn pfn)
    {
        _poison.Remove(pfn.Value);
        ReturnToHypervisor(pfn);
    }

    /// <summary>H15: a private access needs the page assigned to the guest's ASID at that gpa and validated; a shared one, a hypervisor page.</summary>
    private static MemResult CheckGuest(in LineAccess access, RmpTable.RmpEntry entry)
    {
        var line = access.Offset >> PageGeometry.LineShift;
        if (access.Key.IsShared)
            return entry.IsAssigned ? new MemResult(MemStatus.AccessFault, line) : MemResult.Ok; // #NPF: RMP violation
        var gfn = access.Gpa.Value >> PageGeometry.PageShift;
        if (!entry.IsAssigned || entry.IsImmutable || entry.Asid != access.Key.Value || entry.Gfn.Value != gfn || !entry.IsValidated)
            return new MemResult(MemStatus.ValidationFault, line);
        return MemResult.Ok;
    }

    /// <summary>RMPUPDATE 2 MiB plus the guest's 2 MiB PVALIDATE: all 512 frames of the run, at the 512 gfns of the range.</summary>
    private void AssignHuge(ushort asid, Pfn headPfn, Gfn headGfn)
    {
        var validated = true;
        for (var i = 0UL; i < (ulong)PageGeometry.PagesPerHuge && validated; i++) validated = !_validation.Has(asid, new Gfn(headGfn.Value + i));
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            var gfn = new Gfn(headGfn.Value + (ulong)i);
            _rmp.Assign(headPfn.Add(i), asid, gfn, validated, huge: true);
            if (validated) _validation.Add(asid, gfn);
        }
        ledger.Add(CostKind.RmpUpdate);
    }

    /// <summary>RMPUPDATE to hypervisor-owned; a 4 KiB change inside a 2 MiB entry needs PSMASH first (H17).</summary>
    private void ReturnToHypervisor(Pfn pfn)
    {
        var entry = _rmp.Get(pfn);
        if (!entry.IsAssigned || entry.IsImmutable) return;
        if (_rmp.Smash(pfn)) ledger.Add(CostKind.Psmash);
        _rmp.Return(pfn);
        ledger.Add(CostKind.RmpUpdate);
    }

    /// <summary>The frame's bytes for writing; a never-written assigned frame first gets its ASID's encryption of zeros.</summary>
    private Span<byte> FrameOf(Pfn pfn, RmpTable.RmpEntry entry)
    {
        var fresh = memory.Peek(pfn).IsEmpty;
        var frame = memory.Materialize(pfn);
        if (fresh && entry.IsAssigned && entry.Asid != 0) AsidCipher.Apply(entry.Asid, pfn, 0, frame);
        return frame;
    }
}
