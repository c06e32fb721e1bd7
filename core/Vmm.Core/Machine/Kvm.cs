using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Machine;

/// <summary>A KVM VM: one memslot at gpa 0 mapped in the VMM, an EPT, and per-gfn memory attributes.</summary>
internal sealed class Vm
{
    public Vm(VmInfo info, IPageTable ept, Vma vma, BackingFile? file, BackingFile? guestMemfd)
    {
        Info = info;
        Ept = ept;
        Vma = vma;
        File = file;
        GuestMemfd = guestMemfd;
    }

    public VmInfo Info { get; }
    public IPageTable Ept { get; }
    /// <summary>The vCPUs' cached EPT translations; flushed after every zap (kvm_flush_remote_tlbs).</summary>
    public Tlb Tlb { get; } = new();
    /// <summary>The simulator's cache in front of <see cref="Tlb"/> and the EPT (no behaviour of its own): see <see cref="Kvm.TrySoftTlb"/>.</summary>
    public SoftTlb SoftTlb { get; } = new();
    public Vma Vma { get; }
    public BackingFile? File { get; }
    public BackingFile? GuestMemfd { get; }
    /// <summary>The guest_memfd's creation flags (6.18: MMAP, INIT_SHARED); with MMAP the VMM maps the guest_memfd itself at the memslot hva.</summary>
    public GuestMemfdFlags GmemFlags { get; init; }
    /// <summary>KVM_MEMSLOT_GMEM_ONLY: every guest fault of the slot, shared too, goes through the guest_memfd.</summary>
    public bool GuestMemfdOnly => GuestMemfd is not null && (GmemFlags & GuestMemfdFlags.Mmap) != 0;
    /// <summary>Gfns converted to shared (or set shared by attributes); protected VMs start private.</summary>
    public GfnRangeSet SharedGfns { get; } = new();
    public ulong Pages => Info.MemoryBytes >> PageGeometry.PageShift;
    /// <summary>The VM was destroyed; its soft TLB is emptied then, so a direct hit needs no check of its own.</summary>
    public bool Destroyed
    {
        get;
        set
        {
            field = value;
            if (value) SoftTlb.Flush();
        }
    }

    /// <summary>The TD was marked fatal (H6); its soft TLB is emptied then, as for <see cref="Destroyed"/>.</summary>
    public bool Dead
    {
        get;
        set
        {
            field = value;
            if (value) SoftTlb.Flush();
        }
    }

    public bool IsPrivate(Gfn gfn) => Info.Protected && !SharedGfns.Contains(gfn.Value);
}

/// <summary>
/// virt/kvm (kvm_main.c, mmu/mmu.c, the TDX and memory-attribute paths): the VMs with their memslots and EPTs,
/// the vCPU's access through the EPT and its fault (hva_to_pfn), KVM's copies for emulated devices, conversion
/// and memory attributes. It reaches the host's memory management through <see cref="HostKernel"/> and hears of
/// changes to the VMM's mappings through the mmu notifier it registers.
/// </summary>
internal sealed class Kvm : IMmuNotifierSubscriber
{
    private readonly HostKernel _kernel;
    private readonly StepFrames _stepFrames;
    private readonly CostLedger _ledger;
    private readonly IPageTableFactory _pageTables;
    private readonly List<Vm> _vms = [];
    private readonly List<Pfn> _gupScratch = [];
    private readonly List<Pfn> _kvmCopyScratch = [];

    public Kvm(HostKernel kernel, IPageTableFactory pageTables)
    {
        _kernel = kernel;
        _stepFrames = kernel.StepFrames;
        _ledger = kernel.CostLedger;
        _pageTables = pageTables;
        kernel.MmuNotifier.Register(kernel.Vmm, this);
        DirectFrames = kernel.DirectFrames;
        if (DirectFrames is not null) DirectFrames.GrantsRevoked += FlushSoftTlbs;
    }

    /// <summary>The controller's direct grants (<see cref="HostKernel.DirectFrames"/>).</summary>
    internal IDirectFrameAccess? DirectFrames { get; }

    /// <summary>Whether guest accesses use and fill the VMs' <see cref="SoftTlb"/>; off only in tests that compare the machine without it.</summary>
    internal bool SoftTlbEnabled
    {
        get;
        set
        {
            field = value;
            if (!value)
                foreach (var vm in _vms) vm.SoftTlb.Flush(); // nothing cached while off, so a direct hit needs no check of it
        }
    } = true;

    private Process Vmm => _kernel.Vmm;
    private IMemoryController Memory => _kernel.Memory;
    private FrameTable Frames => _kernel.Mm.Frames;
    private CostLedger CostLedger => _ledger;
    private IGuestFaultPolicy GuestFaultPolicy => _kernel.GuestFaultPolicy;

    internal IReadOnlyList<Vm> VmList => _vms;
    public VmInfo GetVm(VmId vm) => _vms[vm.Value].Info;

    internal Vm CreateVm(string name, ulong memory, bool isProtected, BackingKind backing, bool thp, GuestMemfdFlags gmemFlags = GuestMemfdFlags.None)
    {
        if (memory == 0 || memory % PageGeometry.PageSize != 0)
            throw new ArgumentOutOfRangeException(nameof(memory), memory, $"vm '{name}': memory must be a non-zero multiple of 4 KiB, not 0x{memory:x} bytes.");
        if (!Vmm.TryReserveVmRange(memory, out var hva))
            throw new ArgumentOutOfRangeException(nameof(memory), memory,
                $"vm '{name}' needs 0x{memory:x} bytes of the VMM's address space, which has room neither from 0x{Vmm.MmapCursor:x} up to 0x{Process.UserSpaceEnd:x} nor below 0x{Vmm.MmapLowCursor:x} down to 0x{ScenarioLimits.VmmLowFloor:x}.");
        var id = new VmId(_vms.Count);
        var key = isProtected ? Memory.AssignPrivateKey(id) : KeyId.Shared;
        if (backing == BackingKind.GuestMemfd && gmemFlags != GuestMemfdFlags.None && !_kernel.Version.AtLeast(6, 18))
        {
            _kernel.Warn($"vm '{name}': gmemFlags need kernel 6.18 (KVM_CAP_GUEST_MEMFD_FLAGS); at {_kernel.Version} they are ignored");
            gmemFlags = GuestMemfdFlags.None;
        }
        var info = new VmInfo(id, name, isProtected, backing, thp, memory, new Hva(hva), key) { GuestMemfdMappable = (gmemFlags & GuestMemfdFlags.Mmap) != 0 };
        BackingFile? file = null;
        BackingFile? gmem = null;
        var kind = VmaKind.Anon;
        switch (backing)
        {
            case BackingKind.Shmem:
                file = _kernel.NewFile($"memfd:{name}", BackingKind.Shmem, memory, id);
                kind = VmaKind.Shmem;
                break;
            case BackingKind.Hugetlb:
                file = _kernel.NewFile($"hugetlbfs:{name}", BackingKind.Hugetlb, memory, id);
                kind = VmaKind.Hugetlb;
                break;
            case BackingKind.File:
                file = _kernel.NewFile($"file:{name}", BackingKind.File, memory, id);
                kind = VmaKind.File;
                break;
            case BackingKind.GuestMemfd:
                // Shared memory at the memslot hva; private memory in a guest_memfd bound to this VM. With
                // GUEST_MEMFD_FLAG_MMAP (6.18) the VMM maps the guest_memfd itself there, as QEMU does.
                gmem = _kernel.NewFile($"guest_memfd:{name}", BackingKind.GuestMemfd, memory, id);
                file = (gmemFlags & GuestMemfdFlags.Mmap) != 0 ? gmem : _kernel.NewFile($"memfd:{name}-shared", BackingKind.Shmem, memory, id);
                kind = VmaKind.Shmem;
                break;
        }
        var vma = new Vma
        {
            Start = hva,
            End = hva + memory,
            Kind = kind,
            File = file,
            Shared = file is not null,
            HugePage = thp,
            Vm = id,
        };
        var vm = new Vm(info, _pageTables.Create(), vma, file, gmem) { GmemFlags = gmemFlags };
        _vms.Add(vm);
        // GUEST_MEMFD_FLAG_INIT_SHARED: the guest_memfd's pages start shared (and mappable).
        if ((gmemFlags & GuestMemfdFlags.InitShared) != 0) vm.SharedGfns.Add(0, vm.Pages);
        var protection = _kernel.VmmMappingPolicy.MapMemslot(new VmmMapping(info));
        vma.ProtNone = protection == VmmProtection.ProtNone;
        vma.BounceWrites = protection == VmmProtection.ReadOnlyBounced;
        if (protection == VmmProtection.Guest)
        {
            // The VMM's mprotect(PROT_GUEST) on the memslot (the series' QEMU patch): EINVAL unless MAP_SHARED shmem.
            if (!Syscalls.GuestProtectable(vma))
                throw new ComponentOptionsException($"mprotect(PROT_GUEST) on its memslot fails with EINVAL: the guest-only series accepts only a MAP_SHARED shmem mapping, and this VM's backing is {BackingName(backing)}; use \"backing\": \"shmem\"");
            vma.Guest = true;
        }
        Vmm.AddVma(vma);
        return vm;
    }

    internal Vm? FindVm(string name) => _vms.Find(v => v.Info.Name == name);

    private static string BackingName(BackingKind backing) => backing switch
    {
        BackingKind.GuestMemfd => "guest-memfd",
        _ => backing.ToString().ToLowerInvariant(),
    };

    /// <summary>Where the run's policy takes this gfn's page from when the guest reaches it as <paramref name="isPrivate"/>.</summary>
    private GuestMemorySource SourceOf(Vm vm, Gfn gfn, bool isPrivate)
        => _kernel.GuestMemorySourcePolicy.SourceOf(new GuestAccess(vm.Info, gfn, isPrivate, vm.IsPrivate(gfn), vm.GuestMemfd is not null, vm.GuestMemfdOnly));

    /// <summary>kvm_gmem_invalidate_begin: zap every EPT leaf of the VM bound to the guest_memfd for indexes [first, end) (punch hole, memory failure).</summary>
    internal void GmemInvalidate(BackingFile gmem, ulong first, ulong end)
    {
        if (gmem.Vm.IsNone || gmem.Vm.Value >= _vms.Count) return;
        var vm = _vms[gmem.Vm.Value];
        if (vm.GuestMemfd != gmem || vm.Destroyed) return;
        ZapEptGfns(vm, first, Math.Min(end, vm.Pages));
    }

    /// <summary>kvm_gmem_fault_user_mapping: a page of the guest_memfd is private (SIGBUS to a VMM mapping) unless its gfn is shared.</summary>
    internal bool GmemPagePrivate(BackingFile gmem, ulong index)
        => gmem.Vm.IsNone || gmem.Vm.Value >= _vms.Count || _vms[gmem.Vm.Value].IsPrivate(new Gfn(index));

    public Pfn FrameOf(VmId vmId, Gfn gfn)
    {
        var vm = _vms[vmId.Value];
        PageSteps++;
        if (gfn.Value >= vm.Pages) return Pfn.Invalid; // past the memslot: another mapping's memory, not this VM's
        if (vm.GuestMemfd is { } gmem && SourceOf(vm, gfn, vm.IsPrivate(gfn)) == GuestMemorySource.GuestMemfd)
            return _kernel.PageCache.GetPage(gmem, gfn.Value, create: false);
        var va = vm.Info.HvaBase.Value + (gfn.Value << PageGeometry.PageShift);
        var entry = Vmm.PageTable.Lookup(va, out var size);
        if (entry.MapsFrame) return MemoryManager.LeafPfn(entry, size, va);
        if (entry.IsHwPoison) return size == MappingSize.Size2M ? MemoryManager.LeafPfn(PteValue.Leaf(entry.SwapPfn, false, size), size, va) : entry.SwapPfn;
        if (vm.File is not null) return _kernel.PageCache.GetPage(vm.File, gfn.Value, create: false);
        return Pfn.Invalid;
    }

    public void ZapEpt(VmId vmId, Gfn gfn)
    {
        var vm = _vms[vmId.Value];
        PageSteps++;
        if (gfn.Value >= vm.Pages) return;
        var gpa = gfn.Value << PageGeometry.PageShift;
        if (ZapEptLeaf(vm, gpa, out var size)) FlushRemoteTlbs(vm, gpa, size);
    }

    /// <summary>
    /// Clears the EPT leaf that maps <paramref name="gpa"/> (a 2 MiB leaf as a whole) without flushing: the vCPUs may
    /// still use the translation until <see cref="FlushRemoteTlbs"/>, as between KVM's SPTE zap and its flush.
    /// </summary>
    internal bool ZapEptLeaf(Vm vm, ulong gpa, out MappingSize size)
    {
        var entry = vm.Ept.Lookup(gpa, out size);
        if (entry.IsNone) return false;
        SetEpt(vm, size == MappingSize.Size2M ? gpa & ~(PageGeometry.HugeSize - 1) : gpa, PteValue.None, size);
        return true;
    }

    /// <summary>Every EPT change: the soft TLB's entries of the leaf go with it (the semantic TLB keeps its own until a flush).</summary>
    private static void SetEpt(Vm vm, ulong gpa, PteValue entry, MappingSize size)
    {
        vm.Ept.Set(gpa, entry, size);
        vm.SoftTlb.Invalidate(gpa, size == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize);
    }

    /// <summary>The controller revoked its grants: every VM's soft TLB starts over.</summary>
    private void FlushSoftTlbs()
    {
        foreach (var vm in _vms) vm.SoftTlb.Flush();
    }

    /// <summary>kvm_flush_remote_tlbs_range: every vCPU drops its cached translations of the zapped leaf or range; one shootdown.</summary>
    internal void FlushRemoteTlbs(Vm vm, ulong gpa, ulong bytes)
    {
        vm.Tlb.Invalidate(gpa, bytes);
        CostLedger.Add(CostKind.TlbShootdown);
    }

    private void FlushRemoteTlbs(Vm vm, ulong gpa, MappingSize size)
        => FlushRemoteTlbs(vm, size == MappingSize.Size2M ? gpa & ~(PageGeometry.HugeSize - 1) : gpa, size == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize);

    /// <summary>
    /// Per-page steps taken by lookups and range walks (FrameOf, ZapEpt, the leaves and cache chunks a range
    /// visits): what a range operation's cost grows with. Tests read it to show that a wide conversion costs
    /// the pages present in the range, not its size.
    /// </summary>
    internal long PageSteps { get; private set; }

    public void FramesOf(VmId vmId, Gfn first, Gfn end, List<(Gfn Gfn, Pfn Pfn)> into)
    {
        var vm = _vms[vmId.Value];
        var from = first.Value;
        var to = Math.Min(end.Value, vm.Pages);
        if (from >= to) return;
        if (to - from <= (ulong)PageGeometry.PagesPerHuge)
        {
            // A few pages: look each one up (no walk, no allocation).
            for (var gfn = from; gfn < to; gfn++)
                if (FrameOf(vmId, new Gfn(gfn)) is { IsValid: true } pfn) into.Add((new Gfn(gfn), pfn));
            return;
        }
        // FrameOf finds a frame only behind a VMM page-table entry or in the backing file's page cache, so
        // those are the candidates: the walk skips empty tables and the cache scan skips empty chunks.
        var candidates = _gfnScratch;
        candidates.Clear();
        _walkBase = vm.Info.HvaBase.Value;
        _walkFirst = from;
        _walkEnd = to;
        Vmm.PageTable.Visit(_walkBase + (from << PageGeometry.PageShift), _walkBase + (to << PageGeometry.PageShift), _collectLeafGfns ??= CollectLeafGfns);
        if (vm.File is { } file)
        {
            var scanned = file.ScannedBlocks;
            // hugetlbfs caches the head at the 2 MiB-aligned index: start at the head that covers `from`.
            var span = file.IsHugetlb ? (ulong)PageGeometry.PagesPerHuge : 1;
            var cached = _indexScratch;
            cached.Clear();
            file.CollectCachedIndexes(from & ~(span - 1), to, cached);
            foreach (var index in cached)
            {
                PageSteps++;
                for (var gfn = Math.Max(index, from); gfn < Math.Min(index + span, to); gfn++) candidates.Add(gfn);
            }
            cached.Clear();
            PageSteps += file.ScannedBlocks - scanned;
        }
        if (vm.GuestMemfd is { } gmem && gmem != vm.File)
        {
            var cached = _indexScratch;
            cached.Clear();
            gmem.CollectCachedIndexes(from, to, cached);
            PageSteps += cached.Count;
            candidates.AddRange(cached);
            cached.Clear();
        }
        candidates.Sort();
        var previous = ulong.MaxValue;
        foreach (var gfn in candidates)
        {
            if (gfn == previous) continue;
            previous = gfn;
            if (FrameOf(vmId, new Gfn(gfn)) is { IsValid: true } pfn) into.Add((new Gfn(gfn), pfn));
        }
        candidates.Clear();
    }

    private readonly List<ulong> _gfnScratch = [];
    private readonly List<ulong> _indexScratch = [];
    private PageTableVisitor? _collectLeafGfns;
    private ulong _walkBase;
    private ulong _walkFirst;
    private ulong _walkEnd;

    /// <summary>The visitor of <see cref="FramesOf"/>: the gfns in range under one VMM leaf (512 for a 2 MiB leaf).</summary>
    private bool CollectLeafGfns(ulong va, PteValue entry, MappingSize size)
    {
        PageSteps++;
        var gfn = (va - _walkBase) >> PageGeometry.PageShift;
        var count = size == MappingSize.Size2M ? (ulong)PageGeometry.PagesPerHuge : 1;
        for (var g = Math.Max(gfn, _walkFirst); g < Math.Min(gfn + count, _walkEnd); g++) _gfnScratch.Add(g);
        return true;
    }

    public void SetVmmMemoryProtNone(VmId vmId, bool protNone)
    {
        // The memslot's VMA, or the pieces a partial munmap left of it.
        foreach (var vma in Vmm.Vmas.Where(v => v.Vm == vmId).ToList())
        {
            if (vma.ProtNone == protNone) continue;
            vma.ProtNone = protNone;
            var leaves = new List<(ulong Va, PteValue Entry, MappingSize Size)>();
            Vmm.PageTable.Visit(vma.Start, vma.End, (va, entry, size) =>
            {
                if (entry.MapsFrame) leaves.Add((va, entry, size));
                return true;
            });
            var writable = vma.Writable && (vma.Shared || vma.Kind == VmaKind.Anon);
            foreach (var (va, entry, size) in leaves)
                Vmm.PageTable.Set(va, protNone ? PteValue.ProtNoneLeaf(entry.Pfn, size) : PteValue.Leaf(entry.Pfn, writable, size), size);
            if (leaves.Count > 0) _kernel.Mm.ShootDown(Vmm, new Hva(vma.Start), vma.End - vma.Start);
        }
    }

    /// <summary>kvm_mmu_notifier_invalidate_range_start: KVM's subscription to the VMM's mm.</summary>
    void IMmuNotifierSubscriber.InvalidateRange(Hva start, Hva end) => NotifyEptInvalidate(start.Value, end.Value);

    /// <summary>KVM's mmu notifier: host mappings of [start, end) changed, so drop the EPT entries behind them.</summary>
    private void NotifyEptInvalidate(ulong start, ulong end)
    {
        foreach (var vm in _vms)
        {
            var slotStart = vm.Info.HvaBase.Value;
            var slotEnd = slotStart + vm.Info.MemoryBytes;
            if (end <= slotStart || start >= slotEnd || vm.Destroyed) continue;
            var from = Math.Max(start, slotStart) - slotStart;
            var to = Math.Min(end, slotEnd) - slotStart;
            if (to - from <= PageGeometry.HugeSize)
            {
                // The common single-page case (try_to_unmap, COW, a small munmap): look the entries up, no allocation.
                var any = false;
                var first = from & ~(ulong)(PageGeometry.PageSize - 1);
                var last = to;
                for (var gpa = first; gpa < to; gpa += PageGeometry.PageSize)
                {
                    if (!ZapEptLeaf(vm, gpa, out var leafSize)) continue;
                    any = true;
                    if (leafSize != MappingSize.Size2M) continue;
                    first = Math.Min(first, gpa & ~(PageGeometry.HugeSize - 1));
                    last = Math.Max(last, (gpa & ~(PageGeometry.HugeSize - 1)) + PageGeometry.HugeSize);
                }
                // kvm_mmu_notifier_invalidate_range_start: zap, then one flush of what was zapped.
                if (any) FlushRemoteTlbs(vm, first, last - first);
                continue;
            }
            ZapEptRange(vm, from, to);
        }
    }

    /// <summary>Drops every EPT leaf in [from, to) (a separate method so the visitor's closure is only allocated here).</summary>
    private void ZapEptRange(Vm vm, ulong from, ulong to)
    {
        var zapped = new List<(ulong, MappingSize)>();
        vm.Ept.Visit(from, to, (gpa, _, size) =>
        {
            zapped.Add((gpa, size));
            return true;
        });
        foreach (var (gpa, size) in zapped) SetEpt(vm, gpa, PteValue.None, size);
        if (zapped.Count > 0) FlushRemoteTlbs(vm, from, to - from);
    }

    /// <summary>A vCPU load/store through the EPT (guest.read / guest.write).</summary>
    internal KernelResult GuestAccess(Vm vm, ulong gpa, Span<byte> buffer, bool write, bool shared)
    {
        if (!TryGuestAccess(vm, gpa, buffer, write, shared, out var failure)) return failure;
        return write ? Outcome.Ok() : Outcome.OkData(buffer.ToArray());
    }

    /// <summary>
    /// <see cref="GuestAccess"/> that leaves read data in <paramref name="buffer"/> and returns no outcome on
    /// success: allocation-free once the EPT entries exist (the benchmarked hot path).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal bool TryGuestAccess(Vm vm, ulong gpa, Span<byte> buffer, bool write, bool shared, out KernelResult failure)
    {
        if (TryDirectAccess(vm, gpa, buffer, write, shared))
        {
            failure = default;
            return true;
        }
        return TryGuestAccessSlow(vm, gpa, buffer, write, shared, out failure);
    }

    /// <summary><see cref="TryGuestAccess"/> past the soft TLB's direct hits: the checks, the translation, the controller.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private bool TryGuestAccessSlow(Vm vm, ulong gpa, Span<byte> buffer, bool write, bool shared, out KernelResult failure)
    {
        if (vm.Destroyed)
        {
            failure = Outcome.Error(Errno.ENODEV);
            return false;
        }
        if (vm.Dead)
        {
            failure = _kernel.Fault(KernelEvent.Of(KernelEventKind.TdFatal, $"{vm.Info.Name} was already marked fatal", vm.Info.Id, Vmm.Pid));
            return false;
        }
        if (gpa > vm.Info.MemoryBytes || (ulong)buffer.Length > vm.Info.MemoryBytes - gpa)
        {
            // No memslot behind the access (the scenario parser rejects such steps; this keeps the EPT inside the VM).
            failure = Outcome.Error(Errno.EFAULT);
            return false;
        }
        failure = default;
        var isPrivate = vm.Info.Protected && !shared;
        var key = isPrivate ? vm.Info.PrivateKey : KeyId.Shared;
        // The soft TLB holds only translations that need no check beyond the leaf's write bit: not a guest_memfd
        // VM's (the policy picks the view per access), not a private access that takes the page (the frame's KeyID).
        var soft = SoftTlbEnabled && vm.GuestMemfd is null && !(isPrivate && !vm.Info.PrivateKey.IsShared);
        foreach (var span in new PageSpans(gpa, buffer))
        {
        restart:
            var pfn = Pfn.Invalid;
            FrameBytes direct = default;
            var cached = soft && TrySoftTlb(vm, span.Address, write, isPrivate, out pfn, out direct);
            if (cached && direct.Array is not null)
            {
                SoftTlb.CopyGranted(_ledger, Frames, direct.Array, direct.Offset, span.PageOffset, span.Chunk, write, pfn);
                _kernel.StepFrames.Note(pfn);
                continue;
            }
            if (!cached)
            {
                pfn = EptTranslate(vm, span.Address, write, isPrivate, out failure);
                if (!pfn.IsValid) return false;
            }
            var access = new LineAccess(pfn, span.PageOffset, key, Requester.Guest, Gpa: new Gpa(span.Address));
            _kernel.StepFrames.Note(pfn);
            var result = write ? Memory.Write(access, span.Chunk) : Memory.Read(access, span.Chunk);
            if (!result.IsOk)
            {
                failure = GuestConsumed(vm, span.Address, pfn, result);
                if (_kernel.Uaccess.Restarts(failure)) goto restart; // K11a: the vCPU re-enters and refaults the dropped page
                return false;
            }
            // A write may have given the frame its bytes, which a translation-only entry can now take.
            if (soft && (!cached || (write && DirectFrames is not null))) FillSoftTlb(vm, access, isPrivate);
            if (write) Frames.SetFlags(pfn, FrameFlags.Dirty);
        }
        return true;
    }

    /// <summary>
    /// The whole of an access within one page that the soft TLB holds with the controller's grant: the semantic TLB's
    /// lookup (<see cref="TrySoftTlb"/>), the lines charged and the bytes copied, as the slow path would. An entry
    /// exists only for a gfn of the memslot accessed before, so the bounds need no check of their own.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private bool TryDirectAccess(Vm vm, ulong gpa, Span<byte> buffer, bool write, bool shared)
    {
        var offset = (int)(gpa & (PageGeometry.PageSize - 1));
        // 1 to the rest of the page (length 0 wraps). A destroyed or dead VM, or the soft TLB off, holds no entry to hit.
        if ((uint)(buffer.Length - 1) >= (uint)(PageGeometry.PageSize - offset) || _stepFrames.Watching) return false;
        ref var entry = ref vm.SoftTlb.Find(gpa >> PageGeometry.PageShift, isPrivate: !shared && vm.Info.Protected);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) || !entry.Grants(write)) return false;
        if (!TouchSemanticTlb(vm, gpa, entry.Leaf, (entry.Flags & SoftTlb.HugeFlag) != 0)) return false;
        SoftTlb.CopyGranted(_ledger, Frames, entry.Bytes!, entry.Offset, offset, buffer, write, write ? MemoryManager.LeafPfn(entry.Pte, entry.Size, gpa) : default);
        return true;
    }

    /// <summary>
    /// The soft TLB's hit: what <see cref="EptTranslate"/> would do with a present leaf, without the walk. The
    /// semantic TLB gets the same lookup (a hit when it holds this leaf, a walk that inserts it when it holds
    /// nothing for the page, the slow path when it holds another translation that is stale until a flush), and
    /// <paramref name="direct"/> is the frame's bytes when the controller granted this kind of access.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private bool TrySoftTlb(Vm vm, ulong gpa, bool write, bool isPrivate, out Pfn pfn, out FrameBytes direct)
    {
        pfn = default;
        direct = default;
        ref var entry = ref vm.SoftTlb.Find(gpa >> PageGeometry.PageShift, isPrivate);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry)) return false;
        var leaf = entry.Pte;
        if (write && !leaf.IsWritable) return false;
        var size = entry.Size;
        if (!TouchSemanticTlb(vm, gpa, leaf.Raw, size == MappingSize.Size2M)) return false;
        pfn = MemoryManager.LeafPfn(leaf, size, gpa);
        if (entry.Grants(write)) direct = new FrameBytes(entry.Bytes!, entry.Offset);
        return true;
    }

    /// <summary>
    /// The lookup a soft TLB hit owes the semantic TLB, counted as the slow path counts it: a hit when it holds this
    /// leaf, a walk that inserts it when it holds nothing for the page; false (take the slow path) when it holds
    /// another translation, stale until a flush.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private bool TouchSemanticTlb(Vm vm, ulong gpa, ulong leaf, bool huge)
    {
        switch (vm.Tlb.Touch(gpa, leaf, huge))
        {
            case TlbTouch.Hit:
                _ledger.Add(CostKind.TlbHit);
                return true;
            case TlbTouch.Walked:
                _ledger.Add(CostKind.EptWalk);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Caches the EPT's present leaf for the access just done (when the access used it) and the controller's grants.</summary>
    private void FillSoftTlb(Vm vm, in LineAccess access, bool isPrivate)
    {
        var gpa = access.Gpa.Value;
        var leaf = vm.Ept.Lookup(gpa, out var size);
        if (!leaf.IsPresent || MemoryManager.LeafPfn(leaf, size, gpa) != access.Pfn) return;
        FrameBytes? read = null, written = null;
        if (DirectFrames is { } frames)
        {
            if (frames.TryGrant(access, write: false, out var r)) read = r;
            if (frames.TryGrant(access, write: true, out var w)) written = w;
        }
        vm.SoftTlb.Fill(gpa >> PageGeometry.PageShift, isPrivate, leaf, size, read, written);
    }

    /// <summary>
    /// copy_from_guest / copy_to_guest: KVM reads or writes guest memory for an emulated device through
    /// GUP on the VMM's mapping (with the policy's KVM flags) and the policy's page check; failure is EFAULT.
    /// </summary>
    internal KernelResult KvmCopy(Vm vm, ulong gpa, byte[] buffer, bool toGuest)
    {
        var flags = GuestFaultPolicy.KvmGupFlags(new KvmAccess(vm.Info)) | (toGuest ? GupFlags.Write : GupFlags.None);
        var taken = _kvmCopyScratch;
        foreach (var span in new PageSpans(gpa, buffer))
        {
            taken.Clear();
            if (_kernel.FaultHandler.GetUserPages(Vmm, vm.Info.HvaBase.Value + span.Address, 1, flags, taken, out _) == 0) return Outcome.Error(Errno.EFAULT);
            var pfn = taken[0];
            var result = GuestFaultPolicy.KvmPageAllowed(new KvmPage(vm.Info, pfn))
                ? _kernel.Mm.KernelAccess(pfn, span.PageOffset, span.Chunk, toGuest)
                : Outcome.Error(Errno.EFAULT);
            _kernel.FaultHandler.PutPages(taken);
            if (!result.IsOk) return result;
        }
        return toGuest ? Outcome.Ok() : Outcome.OkData(buffer);
    }

    /// <summary>The EPT walk, and on a miss the KVM page fault: hva_to_pfn (GUP on the VMM's mm), the policy hook, the EPT entry.</summary>
    private Pfn EptTranslate(Vm vm, ulong gpa, bool write, bool isPrivate, out KernelResult failure)
    {
        failure = default;
        // A private access of a VM with its own KeyID takes the page into that VM (TDH.MEM.PAGE.AUG), so
        // hva_to_pfn faults it in for write: a page of its own, never the shared zero page.
        var takesPage = isPrivate && !vm.Info.PrivateKey.IsShared;
        if (vm.Tlb.TryLookup(gpa, out var cached, out var cachedSize) && (!write || cached.IsWritable)
            && (vm.GuestMemfd is null || SourceOf(vm, new Gfn(gpa >> PageGeometry.PageShift), isPrivate) != GuestMemorySource.MemoryFault)
            && (!takesPage || Frames.Key(MemoryManager.LeafPfn(cached, cachedSize, gpa)) == vm.Info.PrivateKey))
        {
            CostLedger.Add(CostKind.TlbHit);
            return MemoryManager.LeafPfn(cached, cachedSize, gpa);
        }
        CostLedger.Add(CostKind.EptWalk);
        var entry = vm.Ept.Lookup(gpa, out var size);
        var gfn = new Gfn(gpa >> PageGeometry.PageShift);
        // A guest_memfd VM's private and shared views differ: an access of the other kind faults even over a present entry.
        // A private access over an entry a shared access installed faults too: the private (Secure) EPT has no entry yet.
        if (entry.IsPresent && (!write || entry.IsWritable) && (vm.GuestMemfd is null || SourceOf(vm, gfn, isPrivate) != GuestMemorySource.MemoryFault)
            && (!takesPage || Frames.Key(MemoryManager.LeafPfn(entry, size, gpa)) == vm.Info.PrivateKey))
        {
            vm.Tlb.Insert(gpa, entry, size);
            return MemoryManager.LeafPfn(entry, size, gpa);
        }
        CostLedger.Add(CostKind.EptFault);
        var hva = vm.Info.HvaBase.Value + (gpa & ~(ulong)(PageGeometry.PageSize - 1));
        switch (SourceOf(vm, gfn, isPrivate))
        {
            case GuestMemorySource.MemoryFault:
                failure = MemoryFaultExit(gpa, isPrivate, Errno.EFAULT);
                return Pfn.Invalid;
            case GuestMemorySource.GuestMemfd:
                return GmemFault(vm, gpa, isPrivate, out failure);
        }
        var flags = GuestFaultPolicy.KvmGupFlags(new KvmAccess(vm.Info)) | (write || takesPage ? GupFlags.Write : GupFlags.None);
        _gupScratch.Clear();
        var n = _kernel.FaultHandler.GetUserPages(Vmm, hva, 1, flags, _gupScratch, out var error);
        if (n == 0)
        {
            // kvm_handle_error_pfn: KVM_PFN_ERR_HWPOISON → kvm_send_hwpoison_signal (K26); else -EFAULT.
            failure = error == Errno.EHWPOISON ? HwPoisonSignal(vm, hva, gpa, isPrivate) : GuestFaultFailed(vm, hva, gpa, isPrivate, "hva_to_pfn failed");
            return Pfn.Invalid;
        }
        var pfn = _gupScratch[0];
        var action = GuestFaultPolicy.OnGuestFault(new GuestFault(vm.Info, gfn, pfn, isPrivate));
        _kernel.Mm.PutPage(pfn); // kvm_release_pfn: the mmu notifier, not a reference, keeps the EPT coherent
        switch (action)
        {
            case GuestFaultAction.HwPoisonSignal:
                failure = HwPoisonSignal(vm, hva, gpa, isPrivate);
                return Pfn.Invalid;
            case GuestFaultAction.Fault:
                failure = GuestFaultFailed(vm, hva, gpa, isPrivate, "the policy refused the page");
                return Pfn.Invalid;
        }
        // hva_to_pfn: a read fault on a read-only VMM PTE (the zero page, a copy-on-write page) maps the page
        // read-only, so a later guest write faults again and breaks COW instead of writing a shared frame.
        var hostEntry = Vmm.PageTable.Lookup(hva, out _);
        var writable = vm.Vma.Writable && (write || !hostEntry.IsPresent || hostEntry.IsWritable);
        return InstallEpt(vm, gpa, pfn, isPrivate, writable, out failure);
    }

    /// <summary>
    /// kvm_gmem_get_pfn: the guest_memfd's page for the gfn, zeroed on first use; a hwpoisoned page is KVM_RUN
    /// EHWPOISON with exit MEMORY_FAULT (P-guest-memfd), no signal.
    /// </summary>
    private Pfn GmemFault(Vm vm, ulong gpa, bool isPrivate, out KernelResult failure)
    {
        failure = default;
        var gmem = vm.GuestMemfd;
        if (gmem is null)
        {
            failure = MemoryFaultExit(gpa, isPrivate, Errno.EFAULT); // a private fault on a slot without guest_memfd
            return Pfn.Invalid;
        }
        var pfn = _kernel.PageCache.GetPage(gmem, gpa >> PageGeometry.PageShift, create: true);
        if (!pfn.IsValid)
        {
            failure = Outcome.Error(Errno.ENOMEM);
            return Pfn.Invalid;
        }
        if (Frames.Has(pfn, FrameFlags.HwPoison))
        {
            failure = MemoryFaultExit(gpa, isPrivate, Errno.EHWPOISON);
            return Pfn.Invalid;
        }
        return InstallEpt(vm, gpa, pfn, isPrivate, vm.Vma.Writable, out failure);
    }

    private static readonly string[] PrivateExitFlags = ["PRIVATE"];

    /// <summary>kvm_prepare_memory_fault_exit: KVM_RUN returns -1 with exit MEMORY_FAULT for the faulting 4K page.</summary>
    private static Outcome MemoryFaultExit(ulong gpa, bool isPrivate, Errno errno)
        => Outcome.KvmExit("MEMORY_FAULT", isPrivate ? PrivateExitFlags : [], new Gpa(gpa & ~(ulong)(PageGeometry.PageSize - 1)), PageGeometry.PageSize, errno);

    /// <summary>The end of a guest fault: the TD takes the page (AUG + accept) when private, then the EPT entry.</summary>
    private Pfn InstallEpt(Vm vm, ulong gpa, Pfn pfn, bool isPrivate, bool writable, out KernelResult failure)
    {
        failure = default;
        var gfn = new Gfn(gpa >> PageGeometry.PageShift);
        var hva = vm.Info.HvaBase.Value + (gpa & ~(ulong)(PageGeometry.PageSize - 1));
        var frameKey = Frames.Key(pfn);
        if (isPrivate && !vm.Info.PrivateKey.IsShared && !frameKey.IsShared && frameKey != vm.Info.PrivateKey)
        {
            // The PAMT (or RMP) says another VM owns the page: TDH.MEM.PAGE.AUG (RMPUPDATE) fails and KVM_RUN returns -EFAULT.
            failure = GuestFaultFailed(vm, hva, gpa, isPrivate, "the page belongs to another VM");
            return Pfn.Invalid;
        }
        var assigned = isPrivate && !vm.Info.PrivateKey.IsShared && frameKey != vm.Info.PrivateKey;
        var taken = assigned ? Memory.AssignGuestPage(Assignment(vm, gfn, pfn, hva)) : GuestPageAssigned.Page;
        if (taken == GuestPageAssigned.Refused)
        {
            failure = GuestFaultFailed(vm, hva, gpa, isPrivate, "RMPUPDATE failed: the page is assigned elsewhere");
            return Pfn.Invalid;
        }
        if (assigned)
        {
            // TDH.MEM.PAGE.AUG + TDG.MEM.PAGE.ACCEPT (RMPUPDATE + PVALIDATE): initialised for the VM's private key,
            // all 512 frames of the huge page when the controller assigned the range as one 2 MiB page.
            var count = taken == GuestPageAssigned.HugeRange ? PageGeometry.PagesPerHuge : 1;
            var first = taken == GuestPageAssigned.HugeRange ? pfn.Add(-(int)(gfn.Value & (ulong)(PageGeometry.PagesPerHuge - 1))) : pfn;
            for (var i = 0; i < count; i++)
            {
                var frame = first.Add(i);
                Memory.Reinitialize(frame, vm.Info.PrivateKey);
                Frames.SetKey(frame, vm.Info.PrivateKey);
                Frames.SetFlags(frame, FrameFlags.Private);
            }
            CostLedger.Add(CostKind.Conversion, count);
        }
        if (HugeEpt) return InstallEptLevel(vm, gpa, pfn, isPrivate, writable);
        var leaf = PteValue.Leaf(pfn, writable);
        SetEpt(vm, gpa & ~(ulong)(PageGeometry.PageSize - 1), leaf, MappingSize.Size4K);
        vm.Tlb.Insert(gpa, leaf, MappingSize.Size4K);
        return pfn;
    }

    /// <summary>kvm.hugeEpt: whether faults may install 2 MiB EPT leaves (<see cref="HugeEptHead"/>); off, every leaf is 4 KiB.</summary>
    internal bool HugeEpt { get; init; }

    /// <summary>
    /// <see cref="InstallEpt"/>'s leaf under kvm.hugeEpt (kvm_tdp_mmu_map at the goal level): one 2 MiB leaf of the huge
    /// page's head when <see cref="HugeEptHead"/> allows it, else a 4 KiB leaf. The leaf replaces whatever the EPT held
    /// in its range, with one flush: a 2 MiB leaf the 4K table below it, a 4 KiB leaf the 2 MiB leaf above it.
    /// </summary>
    private Pfn InstallEptLevel(Vm vm, ulong gpa, Pfn pfn, bool isPrivate, bool writable)
    {
        var head = HugeEptHead(vm, new Gfn(gpa >> PageGeometry.PageShift), pfn, isPrivate);
        var size = head.IsValid ? MappingSize.Size2M : MappingSize.Size4K;
        var leafGpa = head.IsValid ? gpa & ~(PageGeometry.HugeSize - 1) : gpa & ~(ulong)(PageGeometry.PageSize - 1);
        var bytes = head.IsValid ? PageGeometry.HugeSize : PageGeometry.PageSize;
        var existing = vm.Ept.Lookup(gpa, out var existingSize);
        if (head.IsValid ? HasEptLeaves(vm, leafGpa, leafGpa + bytes) : existingSize == MappingSize.Size2M && !existing.IsNone)
        {
            // A 2 MiB leaf over a 4K table (handle_removed_pt) or a 4 KiB fault under a 2 MiB leaf (zapped first, as the TDP MMU does).
            ZapEptRange(vm, gpa & ~(PageGeometry.HugeSize - 1), (gpa & ~(PageGeometry.HugeSize - 1)) + PageGeometry.HugeSize);
        }
        var leaf = PteValue.Leaf(head.IsValid ? head : pfn, writable, size);
        SetEpt(vm, leafGpa, leaf, size);
        vm.Tlb.Insert(gpa, leaf, size);
        return pfn;
    }

    /// <summary>
    /// kvm_mmu_max_mapping_level for the faulting gfn: the head frame of the VMM's 2 MiB leaf when KVM may map the
    /// whole 2 MiB range at once, else <see cref="Pfn.Invalid"/> (a 4 KiB leaf). Private pages of a protected VM stay
    /// 4 KiB (TDX's PAMT, SNP's RMP and the policies' private state are kept per 4 KiB here), and so does a
    /// guest_memfd VM (its two views are chosen per access).
    /// </summary>
    private Pfn HugeEptHead(Vm vm, Gfn gfn, Pfn pfn, bool isPrivate)
    {
        if (isPrivate || vm.GuestMemfd is not null) return Pfn.Invalid;
        var first = gfn.Value & ~(ulong)(PageGeometry.PagesPerHuge - 1);
        var end = first + (ulong)PageGeometry.PagesPerHuge;
        // lpage_info's disallow_lpage: the range lies inside the memslot (whose hva is 1 GiB-aligned, so gpa and hva
        // are congruent mod 2 MiB) and its attributes are not mixed (KVM_LPAGE_MIXED_FLAG): all 512 gfns shared.
        if (end > vm.Pages || (vm.Info.Protected && !vm.SharedGfns.Covers(first, end))) return Pfn.Invalid;
        // host_pfn_mapping_level: the VMM's leaf at the hva, read after the policy's hook, which may have changed it.
        var hva = vm.Info.HvaBase.Value + (gfn.Value << PageGeometry.PageShift);
        var host = Vmm.PageTable.Lookup(hva, out var hostSize);
        if (hostSize != MappingSize.Size2M || !host.IsPresent || MemoryManager.LeafPfn(host, hostSize, hva) != pfn) return Pfn.Invalid;
        // A PMD mapping lies inside one VMA; the model's hugetlb fault does not check that, so KVM's side does.
        var hugeHva = vm.Info.HvaBase.Value + (first << PageGeometry.PageShift);
        if (Vmm.FindVma(hugeHva) is not { } vma || vma.End < hugeHva + PageGeometry.HugeSize) return Pfn.Invalid;
        // A THP with a poisoned subpage that could not be split is never mapped whole (folio_test_has_hwpoisoned).
        if (Frames.Has(host.Pfn, FrameFlags.HasHwPoisoned)) return Pfn.Invalid;
        // The model keeps a TD's private and shared mappings in one EPT: a shared 2 MiB leaf must not cover a page the TD took.
        if (!vm.Info.PrivateKey.IsShared)
            for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
                if (Frames.Key(host.Pfn.Add(i)) == vm.Info.PrivateKey) return Pfn.Invalid;
        return host.Pfn;
    }

    private bool HasEptLeaves(Vm vm, ulong from, ulong to)
    {
        _eptLeafSeen = false;
        vm.Ept.Visit(from, to, _seeEptLeaf ??= SeeEptLeaf);
        return _eptLeafSeen;
    }

    private bool _eptLeafSeen;
    private PageTableVisitor? _seeEptLeaf;

    private bool SeeEptLeaf(ulong gpa, PteValue entry, MappingSize size)
    {
        _eptLeafSeen = true;
        return false;
    }

    /// <summary>kvm_send_hwpoison_signal: SIGBUS BUS_MCEERR_AR, lsb 12, at the page-aligned hva, to the vCPU thread.</summary>
    private KernelResult HwPoisonSignal(Vm vm, ulong hva, ulong gpa, bool isPrivate)
        => _kernel.Fault(KernelEvent.GuestFault(KernelEventKind.SigBus, Vmm.Pid, SigBusCode.BUS_MCEERR_AR, new Hva(hva & ~(ulong)(PageGeometry.PageSize - 1)), PageGeometry.PageShift, vm.Info.Id, "kvm_send_hwpoison_signal", FaultDetails(vm, gpa, isPrivate)));

    /// <summary>kvm_handle_bad_page: KVM_RUN fails with -EFAULT; the delivery reports it as the errno or as a MEMORY_FAULT exit (F2).</summary>
    private KernelResult GuestFaultFailed(Vm vm, ulong hva, ulong gpa, bool isPrivate, string reason)
        => _kernel.Fault(KernelEvent.GuestFault(KernelEventKind.GuestFaultFailed, Vmm.Pid, default, new Hva(hva), 0, vm.Info.Id, reason, FaultDetails(vm, gpa, isPrivate)));

    /// <summary>kvm_prepare_memory_fault_exit's details: the page-aligned gpa, the VMM mapping's size, private or not, and a real error on the frame.</summary>
    private GuestMemoryFault FaultDetails(Vm vm, ulong gpa, bool isPrivate)
    {
        var hva = vm.Info.HvaBase.Value + gpa;
        Vmm.PageTable.Lookup(hva, out var size);
        var pageSize = size == MappingSize.Size2M ? PageGeometry.HugeSize : (ulong)PageGeometry.PageSize;
        var pfn = FrameOf(vm.Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
        var realError = pfn.IsValid && Frames.Has(pfn, FrameFlags.RealError);
        return new GuestMemoryFault(new Gpa(gpa & ~(pageSize - 1)), pageSize, isPrivate, realError);
    }

    /// <summary>The first private mapping of a gfn, with the VMM leaf's size and whether its whole 2 MiB range is private (H17).</summary>
    private GuestPageAssignment Assignment(Vm vm, Gfn gfn, Pfn pfn, ulong hva)
    {
        Vmm.PageTable.Lookup(hva, out var leaf);
        var head = gfn.Value & ~(ulong)(PageGeometry.PagesPerHuge - 1);
        var rangePrivate = leaf == MappingSize.Size2M && head + (ulong)PageGeometry.PagesPerHuge <= vm.Pages && !vm.SharedGfns.Overlaps(head, head + (ulong)PageGeometry.PagesPerHuge);
        return new GuestPageAssignment(vm.Info.Id, vm.Info.PrivateKey, gfn, pfn, leaf, rangePrivate);
    }

    /// <summary>A guest access hit poison or failed integrity: the TD dies (H6), or the host handles a #MC taken in guest mode.</summary>
    private KernelResult GuestConsumed(Vm vm, ulong gpa, Pfn pfn, MemResult result)
    {
        var isTd = vm.Info.Protected && !vm.Info.PrivateKey.IsShared;
        if (result.Status == MemStatus.IntegrityFailure || (result.Status == MemStatus.PoisonConsumed && isTd))
        {
            vm.Dead = true;
            CostLedger.Add(CostKind.MachineCheck);
            return _kernel.Fault(KernelEvent.Of(KernelEventKind.TdFatal, $"{vm.Info.Name} consumed poison or failed integrity at gpa 0x{gpa:x} line {result.Line}", vm.Info.Id, Vmm.Pid));
        }
        if (result.Status == MemStatus.AccessFault) return Outcome.Error(Errno.EFAULT);
        if (result.Status == MemStatus.ValidationFault)
            return _kernel.Fault(KernelEvent.Of(KernelEventKind.GuestVc, $"{vm.Info.Name} took a #VC at gpa 0x{gpa:x}: the page is not validated or its RMP entry does not match", vm.Info.Id, Vmm.Pid));
        return _kernel.Uaccess.ConsumedByUser(Vmm, vm.Info.HvaBase.Add(gpa), pfn, result, SignalContext.VcpuThread, vm.Info.Id);
    }

    internal KernelResult Convert(Vm vm, ulong gpa, ulong size, bool toPrivate)
    {
        CostLedger.Add(CostKind.Hypercall);
        // KVM_HC_MAP_GPA_RANGE / MapGPA: an empty, unaligned or wrapping range is invalid, and the VMM
        // converts only memory the guest has (the memslot), so a range past its end fails as a whole.
        if (size == 0 || ((gpa | size) & (PageGeometry.PageSize - 1)) != 0 || size > vm.Info.MemoryBytes || gpa > vm.Info.MemoryBytes - size)
            return Outcome.Error(Errno.EINVAL);
        var outcome = _kernel.ConversionPolicy.OnConvert(new Conversion(vm.Info, new Gpa(gpa), size, toPrivate));
        if (outcome is not null && outcome.Kind != OutcomeKind.Ok) return outcome;
        Memory.OnGuestPageStateChange(new GuestPageStateChange(vm.Info.Id, vm.Info.PrivateKey, new Gfn(gpa >> PageGeometry.PageShift), size >> PageGeometry.PageShift, toPrivate));
        SetAttributes(vm, gpa, size, toPrivate);
        if (!toPrivate) ReclaimPrivateFrames(vm, gpa, gpa + size);
        if (!toPrivate && vm.Info.Thp) _kernel.Thp?.OnShared(vm.Info, vm.Info.HvaOf(new Gpa(gpa)), size);
        CostLedger.Add(CostKind.Conversion, (long)(size >> PageGeometry.PageShift));
        return outcome ?? Outcome.Ok();
    }

    /// <summary>
    /// H10: frames of [start, end) that hold the VM's private KeyID are removed from the TD and
    /// re-initialised for the shared KeyID (TDH.MEM.PAGE.REMOVE, cache flush, MOVDIR64B). Costs the
    /// frames present in the range, not its size.
    /// </summary>
    internal void ReclaimPrivateFrames(Vm vm, ulong start, ulong end)
    {
        if (vm.Info.PrivateKey.IsShared || end <= start) return;
        var frames = _frameScratch;
        frames.Clear();
        FramesOf(vm.Info.Id, new Gfn(start >> PageGeometry.PageShift), new Gfn(((end - 1) >> PageGeometry.PageShift) + 1), frames);
        foreach (var (_, pfn) in frames)
        {
            if (Frames.Key(pfn) != vm.Info.PrivateKey) continue;
            Memory.Reinitialize(pfn, KeyId.Shared);
            Frames.SetKey(pfn, KeyId.Shared);
            Frames.ClearFlags(pfn, FrameFlags.Private);
        }
        frames.Clear();
    }

    private readonly List<(Gfn Gfn, Pfn Pfn)> _frameScratch = [];

    /// <summary>
    /// KVM_SET_MEMORY_ATTRIBUTES (kvm_vm_ioctl_set_mem_attributes): record private/shared for the gfns of
    /// the range and zap the EPT entries behind them. An empty, unaligned or wrapping range is EINVAL; gfns
    /// beyond the memslot may be set (KVM allows it) and only cost their range.
    /// </summary>
    internal Errno SetAttributes(Vm vm, ulong gpa, ulong size, bool isPrivate)
    {
        if (size == 0 || ((gpa | size) & (PageGeometry.PageSize - 1)) != 0 || gpa + size < gpa) return Errno.EINVAL;
        var first = gpa >> PageGeometry.PageShift;
        var end = first + (size >> PageGeometry.PageShift);
        if (isPrivate) vm.SharedGfns.Remove(first, end);
        else vm.SharedGfns.Add(first, end);
        ZapEptGfns(vm, first, Math.Min(end, vm.Pages));
        return 0;
    }

    /// <summary>kvm_zap_gfn_range: every EPT leaf that maps a gfn of [first, end) goes, one shootdown each.</summary>
    private void ZapEptGfns(Vm vm, ulong first, ulong end)
    {
        if (first >= end) return;
        if (end - first <= (ulong)PageGeometry.PagesPerHuge)
        {
            for (var gfn = first; gfn < end; gfn++) ZapEpt(vm.Info.Id, new Gfn(gfn));
            return;
        }
        var leaves = _eptLeaves;
        leaves.Clear();
        vm.Ept.Visit(first << PageGeometry.PageShift, end << PageGeometry.PageShift, _collectEptLeaf ??= CollectEptLeaf);
        PageSteps += leaves.Count;
        foreach (var (gpa, size) in leaves)
        {
            SetEpt(vm, gpa, PteValue.None, size);
            FlushRemoteTlbs(vm, gpa, size);
        }
        leaves.Clear();
    }

    private readonly List<(ulong Gpa, MappingSize Size)> _eptLeaves = [];
    private PageTableVisitor? _collectEptLeaf;

    private bool CollectEptLeaf(ulong gpa, PteValue entry, MappingSize size)
    {
        _eptLeaves.Add((gpa, size));
        return true;
    }

    /// <summary>Tears a VM down: EPT dropped, its memory unmapped from the VMM and its backing files released.</summary>
    internal void DestroyVm(Vm vm)
    {
        if (vm.Destroyed) return;
        var entries = new List<(ulong, MappingSize)>();
        vm.Ept.Visit(0, vm.Info.MemoryBytes, (gpa, _, size) =>
        {
            entries.Add((gpa, size));
            return true;
        });
        foreach (var (gpa, size) in entries)
        {
            SetEpt(vm, gpa, PteValue.None, size);
            // TD teardown: TDH.PHYMEM.PAGE.RECLAIM of every page the TD had mapped (cost grows with mapped pages only).
            ReclaimPrivateFrames(vm, gpa, gpa + (size == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize));
        }
        vm.Tlb.FlushAll(); // the VM's vCPUs are gone: nothing is shot down
        vm.Destroyed = true;
        if (Vmm.Alive)
        {
            // The memslot's VMA, or the pieces a partial munmap left of it (CloneRange keeps Vm).
            foreach (var vma in Vmm.Vmas.Where(v => v.Vm == vm.Info.Id).ToList())
            {
                _kernel.Mm.ZapRange(Vmm, new Hva(vma.Start), new Hva(vma.End));
                Vmm.Vmas.Remove(vma);
            }
        }
        _kernel.Syscalls.CloseFile(vm.File);
        _kernel.Syscalls.CloseFile(vm.GuestMemfd);
    }
}
