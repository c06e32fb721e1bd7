using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.Plugins.HwPoison;

/// <summary>
/// The SWP_HWPOISON unmap policy of the 2021 RFC. When a protected VM first maps a frame into its EPT
/// (two-step: the page is faulted in normally, then poisoned as it is added), the frame gets PG_hwpoison
/// and every VMM PTE to it becomes a hwpoison entry that keeps a page reference; VMM touches get SIGBUS,
/// GUP fails, page-cache access gets EIO. <see cref="HwPoisonV1Policy"/> and <see cref="HwPoisonV2Policy"/>
/// differ where the two postings differ (docs/semantics.md P-hwpoison-v1 / P-hwpoison-v2).
/// </summary>
public abstract class HwPoisonPolicy : IPrivateMemoryPolicy, IGuestFaultPolicy, IHwPoisonEntryPolicy, IConversionPolicy, IFrameLifecyclePolicy
{
    private readonly Dictionary<int, SharedRanges> _shared = [];
    private readonly Dictionary<ulong, (VmId Vm, ulong Gfn)> _poisonedBy = [];
    private readonly List<(Gfn Gfn, Pfn Pfn)> _frameScratch = [];
    private static readonly Outcome Enosys = Outcome.Error(Errno.ENOSYS); // outcomes are immutable: one instance serves every refusal
    private readonly IFrameMetadata _frames;
    private readonly IUnmapService _unmap;
    private readonly IThpMechanics _thp;
    private readonly IVmmControl _vmm;
    private readonly IKernelLog _log;
    private readonly ICostLedger _ledger;

    private protected HwPoisonPolicy(HwPoisonOptions options, HwPoisonServices kernel, bool isV2)
    {
        Options = options;
        IsV2 = isV2;
        (_frames, _unmap, _thp, _vmm, _log, _ledger) = kernel;
        if (options.MaxSharedRangesProblem is { } problem)
            throw new ComponentOptionsException($"maxSharedRanges {problem}", "hwpoison.maxSharedRanges");
    }

    public HwPoisonOptions Options { get; }

    /// <summary>RFC v2 (ownership, FOLL_ALLOW_POISONED, unpoison on free) rather than v1.</summary>
    public bool IsV2 { get; }

    /// <summary>hva_to_pfn_slow: FOLL_HWPOISON, plus FOLL_ALLOW_POISONED for a protected VM in v2.</summary>
    public GupFlags KvmGupFlags(KvmAccess access) => IsV2 && access.Vm.Protected ? GupFlags.HwPoison | GupFlags.AllowPoisoned : GupFlags.HwPoison;

    /// <summary>kvm_protect_pfn (v2) / the poisoning block of direct_page_fault (v1).</summary>
    public GuestFaultAction OnGuestFault(GuestFault fault)
    {
        var (vm, gfn, pfn, privateAccess) = fault;
        var flags = _frames.GetFlags(pfn);
        if (IsV2 && (flags & FrameFlags.HwPoison) != 0 && !Allowed(vm, pfn))
            return GuestFaultAction.HwPoisonSignal; // hva_to_pfn_slow: a page this VM may not use is -EHWPOISON
        if (!vm.Protected) return GuestFaultAction.Map;
        // kvm_protect_pfn runs on every fault of a protected VM; the RFC knows no shared-GPA alias, so its first check is gfn_is_shared.
        if (IsSharedUnderMmuLock(vm, gfn) || !privateAccess) return GuestFaultAction.Map;
        if ((flags & FrameFlags.ZeroPage) != 0)
        {
            // v2 lets the zero page through unpoisoned; v1 only skipped the BUG for reserved pages and set PG_hwpoison on it.
            if (!IsV2) _frames.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison);
            return GuestFaultAction.Map;
        }
        // v2 refuses memory that is not swap-backed; v1 has only a VM_BUG_ON_PAGE, a no-op on production kernels.
        if (IsV2 && (flags & FrameFlags.SwapBacked) == 0)
        {
            _log.Warn($"{Name}: {vm.Name} gfn 0x{gfn.Value:x} is backed by {vm.Backing} memory, which is not swap-backed: the guest fault fails");
            return GuestFaultAction.HwPoisonSignal;
        }
        // lock_page, then gfn_is_shared again under the page lock: a second write acquisition of mmu_lock.
        if (IsSharedUnderMmuLock(vm, gfn)) return GuestFaultAction.Map;
        if ((flags & FrameFlags.HwPoison) != 0) return GuestFaultAction.Map; // already ours (v2 checked the owner above; v1 has none)

        var hva = vm.HvaOf(gfn.ToGpa());
        if (_thp.IsHugeMapped(hva))
        {
            if (_thp.Strategy is not { } strategy)
            {
                _log.Warn($"{Name}: {vm.Name} gfn 0x{gfn.Value:x} sits in a 2 MiB mapping and no huge-page strategy is loaded: the guest fault fails");
                return GuestFaultAction.HwPoisonSignal;
            }
            if (!strategy.PrepareSubpage(vm, hva, pfn)) return GuestFaultAction.HwPoisonSignal;
            var unit = (ulong)Math.Max(1, strategy.PrivateUnitPages(vm));
            if (unit > 1) PoisonUnit(vm, gfn, pfn, unit);
        }
        Poison(vm, gfn, pfn);
        return GuestFaultAction.Map;
    }

    /// <summary>TestSetPageHWPoison, then try_to_unmap: every VMM PTE becomes a hwpoison entry holding a reference (v2 10/13).</summary>
    private void Poison(VmInfo vm, Gfn gfn, Pfn pfn)
    {
        _frames.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private);
        _unmap.TryToUnmap(pfn, UnmapFlags.HwPoison | UnmapFlags.KeepReference);
        if (IsV2) _frames.SetOwner(pfn, vm.Id);
        _poisonedBy[pfn.Value] = (vm.Id, gfn.Value);
    }

    /// <summary>
    /// The strategy makes the aligned unit private together (T3): each other frame of it is poisoned as its own
    /// fault would poison it, except gfns the guest shared, which the VMM keeps.
    /// </summary>
    private void PoisonUnit(VmInfo vm, Gfn gfn, Pfn pfn, ulong unit)
    {
        var first = gfn.Value & ~(unit - 1);
        var frames = _frameScratch;
        frames.Clear();
        _vmm.FramesOf(vm.Id, new Gfn(first), new Gfn(first + unit), frames);
        foreach (var (other, frame) in frames)
        {
            if (frame == pfn || IsShared(vm, other)) continue;
            var flags = _frames.GetFlags(frame);
            if ((flags & (FrameFlags.HwPoison | FrameFlags.ZeroPage)) != 0 || (flags & FrameFlags.SwapBacked) == 0) continue;
            Poison(vm, other, frame);
        }
        frames.Clear();
    }

    /// <summary>do_swap_page on a hwpoison entry, and follow_page_pte for GUP.</summary>
    public HwPoisonEntryAction OnHwPoisonEntry(HwPoisonEntry entry)
    {
        var (pfn, flags) = (entry.Pfn, entry.Flags);
        if ((_frames.GetFlags(pfn) & FrameFlags.HwPoison) == 0) return HwPoisonEntryAction.Rebuild; // unpoisoned: map it back
        if ((flags & GupFlags.Get) == 0) return HwPoisonEntryAction.Poisoned;
        // v1 commented the FOLL_ALLOW_POISONED check out: any GUP user gets the page; v2 requires the flag.
        if (!IsV2 || (flags & GupFlags.AllowPoisoned) != 0) return HwPoisonEntryAction.Allow;
        return HwPoisonEntryAction.Poisoned;
    }

    /// <summary>kvm_page_allowed (v2): not poisoned, or owned by this VM. v1 has no such check.</summary>
    public bool KvmPageAllowed(KvmPage page) => !IsV2 || Allowed(page.Vm, page.Pfn);

    /// <summary>shmem_getpage_gfp refuses a poisoned page with -EIO (v1 7/7, v2 09/13): a fault gets VM_FAULT_SIGBUS.</summary>
    public SigBusCode OnPoisonedCachePage(PoisonedCachePage page) => SigBusCode.BUS_ADRERR;

    public Outcome? OnConvert(Conversion conversion)
    {
        var (vm, gpa, size, toPrivate) = conversion;
        var first = gpa.Value >> PageGeometry.PageShift;
        // The gfn after the range's last byte; a range that would wrap ends at the top of the gfn space.
        var lastByte = size == 0 ? gpa.Value : size - 1 > ulong.MaxValue - gpa.Value ? ulong.MaxValue : gpa.Value + size - 1;
        var end = size == 0 ? first : (lastByte >> PageGeometry.PageShift) + 1;
        var ranges = SharedRangesOf(vm);
        if (toPrivate)
        {
            // v1: the guest's __set_memory_enc_dec warns and returns -ENOSYS. v2: forget the range; the next private fault poisons again.
            if (!IsV2) return Enosys;
            ranges.Remove(first, end);
            return null;
        }
        if (!ranges.Add(first, end))
            _log.Warn($"{Name}: {vm.Name} shares gfn 0x{first:x}-0x{end - 1:x} but already has {ranges.Capacity} shared ranges (KVM_NR_SHARED_RANGES); the range is not remembered and its next private fault poisons it again");
        // Only the frames present in the range, however wide it is (kvm_share_memory walks the memslot's pages).
        var frames = _frameScratch;
        frames.Clear();
        _vmm.FramesOf(vm.Id, new Gfn(first), new Gfn(end), frames);
        foreach (var (_, pfn) in frames)
        {
            var flags = _frames.GetFlags(pfn);
            if ((flags & FrameFlags.HwPoison) == 0) continue;
            if (IsV2 && _frames.GetOwner(pfn) != vm.Id) continue; // kvm_share_pfn: only the owner may share
            if (Options.TrackReason && (flags & FrameFlags.RealError) != 0) continue; // a really bad frame stays poisoned
            _frames.ClearFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Private);
            if (IsV2) _frames.SetOwner(pfn, VmId.None);
            _poisonedBy.Remove(pfn.Value);
        }
        frames.Clear();
        return null;
    }

    /// <summary>kvm_unpoison_page from free_pages_prepare (v2); v1 leaves freed poisoned frames leaked (K24).</summary>
    public FreeAction OnFree(FreedFrame frame)
    {
        var pfn = frame.Pfn;
        if (!_poisonedBy.Remove(pfn.Value, out _) || !IsV2) return FreeAction.Default;
        _frames.SetOwner(pfn, VmId.None);
        if (Options.TrackReason && (_frames.GetFlags(pfn) & FrameFlags.RealError) != 0) return FreeAction.Default;
        return FreeAction.ClearPoisonAndFree;
    }

    /// <summary>
    /// A real error on a frame this policy poisoned: as posted, memory_failure sees "already poisoned" and
    /// nobody hears of it. With hwpoison.trackReason the VMM is told at once (SIGBUS BUS_MCEERR_AO at the page).
    /// </summary>
    public void OnMemoryFailure(FailedFrame frame)
    {
        var pfn = frame.Pfn;
        if (!Options.TrackReason || !_poisonedBy.TryGetValue(pfn.Value, out var owner)) return;
        if ((_frames.GetFlags(pfn) & FrameFlags.RealError) != 0) return;
        _frames.SetFlags(pfn, FrameFlags.RealError);
        var vm = _vmm.GetVm(owner.Vm);
        _vmm.SignalVmm(SigBusCode.BUS_MCEERR_AO, vm.HvaOf(new Gfn(owner.Gfn).ToGpa()), PageGeometry.PageShift,
            $"{Name}: real memory error on {vm.Name}'s private gfn 0x{owner.Gfn:x} (hwpoison.trackReason)");
    }

    private bool Allowed(VmInfo vm, Pfn pfn) => (_frames.GetFlags(pfn) & FrameFlags.HwPoison) == 0 || _frames.GetOwner(pfn) == vm.Id;

    /// <summary>kvm->shared_ranges, made with the VM's first conversion.</summary>
    private SharedRanges SharedRangesOf(VmInfo vm)
    {
        ref var ranges = ref CollectionsMarshal.GetValueRefOrAddDefault(_shared, vm.Id.Value, out _);
        return ranges ??= new SharedRanges(Options.MaxSharedRanges);
    }

    /// <summary>gfn_is_shared in the fault path: spin_lock(&amp;kvm->mmu_lock) around the walk of the shared ranges (v2 13/13, v1's recheck alike).</summary>
    private bool IsSharedUnderMmuLock(VmInfo vm, Gfn gfn)
    {
        _ledger.Add(CostKind.MmuLockWrite);
        return IsShared(vm, gfn);
    }

    private bool IsShared(VmInfo vm, Gfn gfn) => _shared.TryGetValue(vm.Id.Value, out var ranges) && ranges.Contains(gfn.Value);

    private string Name => IsV2 ? "hwpoison-v2" : "hwpoison-v1";
}

/// <summary>RFC v1 (2021-04-02): poison and unmap on first EPT map; no ownership; share only; no unpoison on free.</summary>
public sealed class HwPoisonV1Policy(HwPoisonOptions options, HwPoisonServices kernel) : HwPoisonPolicy(options, kernel, isV2: false);

/// <summary>RFC v2 (2021-04-16), the reference policy: ownership, FOLL_ALLOW_POISONED, unpoison on free and on share.</summary>
public sealed class HwPoisonV2Policy(HwPoisonOptions options, HwPoisonServices kernel) : HwPoisonPolicy(options, kernel, isV2: true);

/// <summary>The kernel services both hwpoison policies use.</summary>
public readonly record struct HwPoisonServices(IFrameMetadata Frames, IUnmapService Unmap, IThpMechanics Thp, IVmmControl Vmm, IKernelLog Log, ICostLedger Ledger)
{
    /// <summary>From a run's service scope.</summary>
    public static HwPoisonServices From(IServiceProvider run) => new(
        run.GetRequiredService<IFrameMetadata>(),
        run.GetRequiredService<IUnmapService>(),
        run.GetRequiredService<IThpMechanics>(),
        run.GetRequiredService<IVmmControl>(),
        run.GetRequiredService<IKernelLog>(),
        run.GetRequiredService<ICostLedger>());
}
