using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vmm.Abstractions;
using Vmm.Core.Costs;

namespace Vmm.Core.Machine;

/// <summary>
/// User loads and stores through a process's page tables (copy_from_user / copy_to_user and the faults they
/// take): what the fault handler cannot satisfy becomes the signal of arch/x86/mm/fault.c (do_sigbus,
/// bad_area), and consumed poison becomes the #MC path's kill_me_maybe.
/// </summary>
internal sealed class Uaccess
{
    private readonly HostKernel _kernel;

    public Uaccess(HostKernel kernel)
    {
        _kernel = kernel;
        DirectFrames = kernel.DirectFrames;
        if (DirectFrames is not null) DirectFrames.GrantsRevoked += FlushSoftTlbs;
    }

    /// <summary>The controller's direct grants (<see cref="HostKernel.DirectFrames"/>).</summary>
    internal IDirectFrameAccess? DirectFrames { get; }

    /// <summary>Whether user accesses use and fill the processes' <see cref="SoftTlb"/>; off only in tests that compare the machine without it.</summary>
    internal bool SoftTlbEnabled
    {
        get;
        set
        {
            field = value;
            if (!value)
                foreach (var p in _kernel.Processes) p.SoftTlb?.Flush(); // nothing cached while off, so a direct hit needs no check of it
        }
    } = true;

    /// <summary>A user load/store of [va, va+buffer.Length) (host.read / host.write).</summary>
    internal KernelResult UserAccess(Process p, Hva va, Span<byte> buffer, bool write)
    {
        if (!TryUserAccess(p, va, buffer, write, out var failure)) return failure;
        return write ? Outcome.Ok() : Outcome.OkData(buffer.ToArray());
    }

    /// <summary>
    /// <see cref="UserAccess"/> that leaves read data in <paramref name="buffer"/> and returns no outcome on
    /// success: allocation-free once the pages are present (the benchmarked hot path).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryUserAccess(Process p, Hva va, Span<byte> buffer, bool write, out KernelResult failure)
    {
        if (TryDirectAccess(p, va.Value, buffer, write))
        {
            failure = default;
            return true;
        }
        return TryUserAccessSlow(p, va, buffer, write, out failure);
    }

    /// <summary>
    /// The whole of an access within one page that the soft TLB holds with the controller's grant: the semantic TLB's
    /// lookup, the lines charged and the bytes copied, as the slow path would. Until a hardware op has run the step's
    /// frames need no note, and the soft TLB switched off holds nothing, so neither is checked beyond that.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryDirectAccess(Process p, ulong va, Span<byte> buffer, bool write)
    {
        var offset = (int)(va & (PageGeometry.PageSize - 1));
        if ((uint)(buffer.Length - 1) >= (uint)(PageGeometry.PageSize - offset) || _kernel.StepFrames.Watching || p.SoftTlb is not { } soft) return false;
        ref var entry = ref soft.Find(va >> PageGeometry.PageShift);
        if (Unsafe.IsNullRef(ref entry) || !entry.Grants(write) || !TouchSemanticTlb(p, va, entry.Leaf, entry.Huge)) return false;
        SoftTlb.CopyGranted(_kernel.CostLedger, _kernel.Mm.Frames, entry.Bytes!, entry.Offset, offset, buffer, write, write ? MemoryManager.LeafPfn(entry.Pte, entry.Size, va) : default);
        return true;
    }

    /// <summary><see cref="TryUserAccess"/> past the soft TLB's direct hits: the translation, the controller, the fill.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryUserAccessSlow(Process p, Hva va, Span<byte> buffer, bool write, out KernelResult failure)
    {
        failure = default;
        var soft = SoftTlbEnabled ? p.SoftTlb : null;
        foreach (var span in new PageSpans(va.Value, buffer))
        {
        restart:
            var pfn = Pfn.Invalid;
            var huge = false;
            FrameBytes direct = default;
            var cached = soft is not null && TrySoftTlb(p, soft, span.Address, write, out pfn, out huge, out direct);
            if (cached && direct.Array is not null)
            {
                SoftTlb.CopyGranted(_kernel.CostLedger, _kernel.Mm.Frames, direct.Array, direct.Offset, span.PageOffset, span.Chunk, write, pfn);
                _kernel.StepFrames.Note(pfn);
                continue;
            }
            if (!cached)
            {
                var fault = _kernel.FaultHandler.TranslateUser(p, span.Address, write, out pfn);
                if (fault != VmFault.Ok)
                {
                    failure = SignalForFault(p, span.Address, fault);
                    return false;
                }
                // The translation just filled the TLB: its leaf size tells the RMP check whether a 2 MiB mapping is used (H17).
                huge = p.Tlb.TryLookup(span.Address, out _, out var leaf) && leaf == MappingSize.Size2M;
            }
            var access = new LineAccess(pfn, span.PageOffset, KeyId.Shared, Requester.HostUser, huge ? AccessFlags.HugeMapping : AccessFlags.None);
            _kernel.StepFrames.Note(pfn);
            var result = write ? _kernel.Memory.Write(access, span.Chunk) : _kernel.Memory.Read(access, span.Chunk);
            if (!result.IsOk)
            {
                failure = ConsumedByUser(p, new Hva(span.Address), pfn, result);
                if (Restarts(failure)) goto restart;
                return false;
            }
            // A write may have given the frame its bytes, which a translation-only entry can now take.
            if (soft is not null && (!cached || (write && DirectFrames is not null))) FillSoftTlb(p, soft, span.Address, access);
            if (write) _kernel.Mm.Frames.SetFlags(pfn, FrameFlags.Dirty);
        }
        return true;
    }

    /// <summary>
    /// The soft TLB's hit: what <see cref="FaultHandler.TranslateUser"/> would do with the page's present leaf, without
    /// the walk. The semantic TLB gets the same lookup (a hit when it holds this leaf, a miss and a walk that insert it
    /// when it holds nothing for the page, the slow path when it holds another translation that is stale until a
    /// shootdown), and <paramref name="direct"/> is the frame's bytes when the controller granted this kind of access.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TrySoftTlb(Process p, SoftTlb soft, ulong va, bool write, out Pfn pfn, out bool huge, out FrameBytes direct)
    {
        pfn = Pfn.Invalid;
        huge = false;
        direct = default;
        ref var entry = ref soft.Find(va >> PageGeometry.PageShift);
        if (Unsafe.IsNullRef(ref entry)) return false;
        var leaf = entry.Pte;
        if (write && !leaf.IsWritable) return false;
        if (!TouchSemanticTlb(p, va, leaf.Raw, entry.Huge)) return false;
        huge = entry.Huge;
        pfn = MemoryManager.LeafPfn(leaf, entry.Size, va);
        if (entry.Grants(write)) direct = new FrameBytes(entry.Bytes!, entry.Offset);
        return true;
    }

    /// <summary>
    /// The lookup a soft TLB hit owes the semantic TLB, counted as <see cref="FaultHandler.TranslateUser"/> counts it: a
    /// hit when it holds this leaf, a miss and a walk that insert it when it holds nothing for the page; false (take the
    /// slow path) when it holds another translation, stale until a shootdown.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TouchSemanticTlb(Process p, ulong va, ulong leaf, bool huge)
    {
        switch (p.Tlb.Touch(va, leaf, huge))
        {
            case TlbTouch.Hit:
                _kernel.CostLedger.Add(CostKind.TlbHit);
                return true;
            case TlbTouch.Walked:
                _kernel.CostLedger.Add(CostKind.TlbMiss);
                _kernel.CostLedger.Add(CostKind.PageWalk);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Caches the page table's present leaf for the access just done (when the access used it, with the mapping size it
    /// told the controller) and the controller's grants for accesses like it.
    /// </summary>
    private void FillSoftTlb(Process p, SoftTlb soft, ulong va, in LineAccess access)
    {
        var leaf = p.PageTable.Lookup(va, out var size);
        if (!leaf.IsPresent || MemoryManager.LeafPfn(leaf, size, va) != access.Pfn) return;
        // A hit tells the controller the size of this leaf, which the semantic TLB then holds: a stale entry of another size did not.
        if (((access.Flags & AccessFlags.HugeMapping) != 0) != (size == MappingSize.Size2M)) return;
        FrameBytes? read = null, written = null;
        if (DirectFrames is { } frames)
        {
            if (frames.TryGrant(access, write: false, out var r)) read = r;
            if (frames.TryGrant(access, write: true, out var w)) written = w;
        }
        soft.Fill(va >> PageGeometry.PageShift, isPrivate: false, leaf, size, read, written);
    }

    /// <summary>The controller revoked its grants: every process's soft TLB starts over.</summary>
    private void FlushSoftTlbs()
    {
        foreach (var p in _kernel.Processes) p.SoftTlb?.Flush();
    }

    /// <summary>do_sigbus / bad_area for a user access that the fault handler could not satisfy.</summary>
    private KernelResult SignalForFault(Process p, ulong va, VmFault fault, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        return fault switch
        {
            VmFault.SigSegv => _kernel.Fault(new KernelEvent(KernelEventKind.SigSegv, p.Pid, default, new Hva(va), 0, context, vm, "access outside any VMA")),
            VmFault.HwPoison => _kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, new Hva(va), PageGeometry.PageShift, context, vm, "hwpoison entry")),
            VmFault.HwPoisonLarge => _kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, new Hva(va), PageGeometry.HugeShift, context, vm, "hwpoison huge entry")),
            // The fault handler already raised the OOM killer's SIGKILL for this address.
            VmFault.Oom => KernelResult.FaultedWith(FaultHandler.OomKillEvent(p, va)),
            _ => _kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_ADRERR, new Hva(va), 0, context, vm, "VM_FAULT_SIGBUS")),
        };
    }

    /// <summary>H8: a user load consumed poison → #MC → memory_failure(MF_ACTION_REQUIRED) → SIGBUS AR (kill_me_maybe).</summary>
    internal KernelResult ConsumedByUser(Process p, Hva va, Pfn pfn, MemResult result, SignalContext context = SignalContext.VmmAccess, VmId vm = default)
    {
        if (result.Status == MemStatus.AccessFault)
            return _kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_ADRERR, va, 0, context, vm, "ownership check (RMP) fault"));
        _kernel.CostLedger.Add(CostKind.MachineCheck);
        var before = _kernel.Events.Count;
        var rc = _kernel.MemoryFailure.Handle(pfn, actionRequired: true, current: p, currentVa: va, context: context, vm: vm);
        if (SignalSince(before, p) is { } sent) return KernelResult.FaultedWith(sent);
        // memory_failure panicked the host (recovery off): nothing is signalled, and the resolver makes the panic the outcome.
        if (_kernel.Dead) return Outcome.Ok();
        // K11a: a clean file page was dropped and nobody signalled; kill_me_maybe returns and the access restarts.
        if (rc == 0 && _kernel.MemoryFailure.DroppedCleanPage) return Outcome.Ok();
        // kill_me_maybe: EHWPOISON (already poisoned) still reports the address; any other failure is kill_me_now,
        // a plain force_sig(SIGBUS): si_code SI_KERNEL, no address, no lsb (K29).
        if (rc is Errno.EHWPOISON or 0)
            return _kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.BUS_MCEERR_AR, va, PageGeometry.PageShift, context, vm, $"memory_failure returned {rc}"));
        return _kernel.Fault(KernelEvent.SigBus(p.Pid, SigBusCode.SI_KERNEL, default, 0, context, vm, $"memory_failure returned {rc}: kill_me_now"));
    }

    /// <summary>The consumed error was recovered without a signal (K11a): the faulting access runs again and refaults the page.</summary>
    internal bool Restarts(in KernelResult consumed) => consumed.IsOk && !_kernel.Dead && _kernel.MemoryFailure.DroppedCleanPage;

    /// <summary>The first SIGBUS or SIGKILL raised for <paramref name="p"/> since event <paramref name="since"/>: what memory_failure already sent the consumer.</summary>
    private KernelEvent? SignalSince(int since, Process p)
    {
        var events = _kernel.Events;
        for (var i = since; i < events.Count; i++)
            if (events[i].Pid == p.Pid && events[i].Kind is KernelEventKind.SigBus or KernelEventKind.SigKill) return events[i];
        return null;
    }
}
