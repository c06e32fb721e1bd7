using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine.Ops;

/// <summary>
/// What an op runs against: the kernel, its VMs and the cost ledger, with the step being run (for messages)
/// and the lookups ops share (the step's VM, gpa, host address, backing file and frame).
/// </summary>
public sealed class OpContext
{
    private readonly Simulation _simulation;

    internal OpContext(Simulation simulation, StepSpec step)
    {
        _simulation = simulation;
        Step = step;
    }

    public StepSpec Step { get; }

    public CostLedger Ledger => _simulation.Ledger;

    internal HostKernel Kernel => _simulation.Kernel;

    private StepAddress At => Step.Op.At;

    /// <summary>Bad input found only when the step runs, with the step's location.</summary>
    public ScenarioException Bad(string message) => new($"step {Step.Index} ({Step.Op.Name}) {message}", Step.Location);

    /// <summary>ESRCH once the VMM has exited; null while it lives.</summary>
    public Outcome? VmmAlive() => Kernel.Vmm.Alive ? null : Outcome.Error(Errno.ESRCH);

    internal Vm RequireVm()
    {
        var name = At.Vm ?? throw Bad("needs \"vm\"");
        return Kernel.Kvm.FindVm(name) ?? throw Bad($"names vm '{name}', which the scenario does not declare");
    }

    internal ulong RequireGpa(Vm vm)
    {
        var gpa = At.Gpa ?? throw Bad("needs \"gpa\"");
        if (gpa >= vm.Info.MemoryBytes) throw Bad($"gpa 0x{gpa:x} is outside vm '{vm.Info.Name}' (memory 0x{vm.Info.MemoryBytes:x})");
        return gpa;
    }

    /// <summary>[gpa, gpa+len) must lie in the VM: past its end lies another mapping's memory, not this VM's frames.</summary>
    internal void RequireInside(Vm vm, ulong gpa, ulong len)
    {
        if (gpa > vm.Info.MemoryBytes || len > vm.Info.MemoryBytes - gpa)
            throw Bad($"gpa 0x{gpa:x}+{len} reaches past the end of vm '{vm.Info.Name}' (memory 0x{vm.Info.MemoryBytes:x}); keep gpa+len inside the VM");
    }

    /// <summary>The step's <c>hva</c>, or the VMM's mapping of its <c>vm</c> + <c>gpa</c>.</summary>
    public ulong HostAddress()
    {
        if (At.Hva is { } hva) return hva;
        if (At.Vm is not null && At.Gpa is not null)
        {
            var vm = RequireVm();
            return vm.Info.HvaBase.Value + RequireGpa(vm);
        }
        throw Bad("needs \"hva\", or \"vm\" and \"gpa\"");
    }

    internal BackingFile RequireFile(Vm vm)
        => vm.GuestMemfd ?? vm.File ?? throw Bad($"vm '{vm.Info.Name}' is anon-backed: there is no backing file; use backing shmem, hugetlb, file or guest-memfd");

    /// <summary>A zeroed buffer for a read of <paramref name="len"/> bytes.</summary>
    public byte[] ReadBuffer(ulong? len) => new byte[RequireLen(len)];

    internal int RequireLen(ulong? value)
    {
        var len = value ?? throw Bad("needs \"len\"");
        if (len == 0 || len > 64UL << 20) throw Bad("\"len\" must be between 1 and 64M");
        return (int)len;
    }

    /// <summary>A copy of the step's data for a write, which the machine may keep.</summary>
    public byte[] WriteBuffer(byte[]? data) => (byte[])(data ?? throw Bad("needs \"data\"")).Clone();

    /// <summary>The frame behind a step's vm+gpa or pfn, with the offset in it and the VMM's hva (0 without a VM).</summary>
    internal (Pfn Pfn, int Offset, ulong Hva) ResolveFrame(bool create)
    {
        if (At.Pfn is { } rawPfn)
        {
            var pfn = new Pfn(rawPfn);
            if (!Kernel.Mm.Frames.IsValid(pfn)) throw Bad($"pfn 0x{rawPfn:x} is outside host memory");
            var mapping = Kernel.Mm.Mappings(pfn);
            var hva = mapping.FirstOrDefault(m => m.Pid == Kernel.Vmm.Pid).Hva.Value;
            return (pfn, (int)((At.Offset ?? 0) & (PageGeometry.PageSize - 1)), hva);
        }
        var vm = RequireVm();
        var gpa = RequireGpa(vm);
        var frame = Kernel.Kvm.FrameOf(vm.Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
        if (!frame.IsValid && create) frame = Populate(vm, gpa);
        return (frame, (int)(gpa & (PageGeometry.PageSize - 1)), vm.Info.HvaBase.Value + gpa);
    }

    /// <summary>
    /// Faults a guest page in through the VMM's mapping so that a frame exists behind it; Pfn.Invalid when
    /// the host is out of memory (the OOM killer's SIGKILL to the VMM is then the step's outcome).
    /// </summary>
    internal Pfn Populate(Vm vm, ulong gpa)
    {
        var taken = new List<Pfn>();
        var hva = vm.Info.HvaBase.Value + gpa;
        if (Kernel.FaultHandler.GetUserPages(Kernel.Vmm, hva, 1, GupFlags.Write | GupFlags.Force | GupFlags.AllowPoisoned, taken, out var error) == 0)
        {
            if (error == Errno.ENOMEM) return Pfn.Invalid;
            throw Bad($"gpa 0x{gpa:x} of vm '{vm.Info.Name}' has no frame and cannot be populated ({error}); touch it first");
        }
        Kernel.FaultHandler.PutPages(taken);
        return Kernel.Kvm.FrameOf(vm.Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
    }

    /// <summary>A kernel, device or TDX-module access to the frames behind the step's vm+gpa or pfn.</summary>
    internal KernelResult FrameAccess(byte[] buffer, bool write, Requester requester)
    {
        if (At.Pfn is { } rawPfn)
        {
            var pfn = new Pfn(rawPfn);
            if (!Kernel.Mm.Frames.IsValid(pfn)) throw Bad($"pfn 0x{rawPfn:x} is outside host memory");
            if (requester == Requester.Seam) throw Bad("with \"requester\": \"seam\" needs \"vm\" and \"gpa\" (the TDX module uses that TD's KeyID)");
            var inFrame = (int)((At.Offset ?? 0) & (PageGeometry.PageSize - 1));
            var lastFrame = pfn.Value + (((ulong)inFrame + (ulong)buffer.Length - 1) >> PageGeometry.PageShift);
            if (!Kernel.Mm.Frames.IsValid(new Pfn(lastFrame)))
                throw Bad($"pfn 0x{rawPfn:x} with len {buffer.Length} runs past the end of host memory ({Kernel.Mm.Frames.Count} frames); shorten len");
            return Kernel.Mm.KernelAccess(pfn, inFrame, buffer, write, requester);
        }
        var vm = RequireVm();
        var gpa = RequireGpa(vm);
        RequireInside(vm, gpa, (ulong)buffer.Length);
        // The TDX module touches TD memory with the TD's private KeyID; everything else uses the shared one.
        var key = requester == Requester.Seam ? vm.Info.PrivateKey : KeyId.Shared;
        if (requester == Requester.Seam && !InSecureEpt(vm, gpa, buffer.Length)) return Outcome.Error(Errno.EFAULT);
        foreach (var span in new PageSpans(gpa, buffer))
        {
            var pfn = Kernel.Kvm.FrameOf(vm.Info.Id, new Gfn(span.PageIndex));
            if (!pfn.IsValid)
            {
                if (!write) continue; // an unpopulated guest page: nothing to read but zeros
                pfn = Populate(vm, span.Address);
                if (!pfn.IsValid) return Outcome.Error(Errno.ENOMEM);
            }
            var result = Kernel.Mm.KernelAccess(pfn, span.PageOffset, span.Chunk, write, requester, key);
            if (!result.IsOk) return result;
        }
        return write ? Outcome.Ok() : Outcome.OkData(buffer);
    }

    /// <summary>
    /// The TDX module walks the Secure EPT (TDH.EXPORT.MEM, TDH.MEM.RD): it refuses a gpa the TD has no private page at,
    /// a page never taken or one the TD uses shared, so every page of the range must be a frame with the TD's KeyID.
    /// </summary>
    private bool InSecureEpt(Vm vm, ulong gpa, int length)
    {
        if (!vm.Info.Protected || vm.Info.PrivateKey.IsShared) return false;
        var last = (gpa + (ulong)Math.Max(length, 1) - 1) >> PageGeometry.PageShift;
        for (var page = gpa >> PageGeometry.PageShift; page <= last; page++)
            if (Kernel.Kvm.FrameOf(vm.Info.Id, new Gfn(page)) is var pfn && (!pfn.IsValid || Kernel.Mm.Frames.Key(pfn) != vm.Info.PrivateKey)) return false;
        return true;
    }

    /// <summary>A syscall's VMM buffer at <paramref name="bufferGpa"/> of <paramref name="vm"/> (K6): its length, checked to lie inside the VM, and its hva.</summary>
    internal (int Len, ulong Hva) GuestBuffer(Vm vm, ulong bufferGpa, ulong? len)
    {
        var bytes = RequireLen(len);
        if (bufferGpa > vm.Info.MemoryBytes || (ulong)bytes > vm.Info.MemoryBytes - bufferGpa) throw Bad($"bufferGpa 0x{bufferGpa:x}+{bytes} is outside vm '{vm.Info.Name}'");
        return (bytes, vm.Info.HvaBase.Value + bufferGpa);
    }

    /// <summary>copy_from_guest / copy_to_guest at the step's vm+gpa (the kernel asks the policy which pages KVM may touch).</summary>
    internal KernelResult KvmCopy(byte[] buffer, bool toGuest)
    {
        var vm = RequireVm();
        var gpa = RequireGpa(vm);
        RequireInside(vm, gpa, (ulong)buffer.Length);
        return Kernel.Kvm.KvmCopy(vm, gpa, buffer, toGuest);
    }
}
