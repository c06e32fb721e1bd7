using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine.Ops;

/// <summary>
/// <c>kernel.read</c>: the host kernel reads the frames behind vm+gpa or pfn; <c>requester</c> "seam" is the TDX
/// module with the TD's private KeyID (H9), "kvm" is copy_from_guest for an emulated device.
/// </summary>
public sealed record KernelRead(ulong Len, string? Requester = null) : StepOp
{
    public static OpDefinition Definition { get; } = new("kernel.read", OpAddressing.VmGpaOrPfn, ["len"], ["requester"],
        r => new KernelRead(r.Length("len") ?? 0, r.OneOf("requester", KernelRequester.Names)));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Len, "len");

    protected internal override void CheckAfterRange(StepReader step) => KernelRequester.Check(step, At, Requester);

    public override KernelResult Execute(OpContext context) => KernelRequester.NoTdxModule(context, Requester) ? Outcome.Error(Errno.ENODEV)
        : Requester == "kvm" ? context.KvmCopy(context.ReadBuffer(Len), toGuest: false)
        : context.FrameAccess(context.ReadBuffer(Len), write: false, KernelRequester.Of(Requester));
}

/// <summary><c>kernel.write</c>: the host kernel writes the frames behind vm+gpa or pfn; <c>requester</c> as for <see cref="KernelRead"/>.</summary>
public sealed record KernelWrite(byte[] Data, string? Requester = null) : StepOp
{
    public static OpDefinition Definition { get; } = new("kernel.write", OpAddressing.VmGpaOrPfn, ["data"], ["requester"],
        r => new KernelWrite(r.Data("data") ?? [], r.OneOf("requester", KernelRequester.Names)));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => ((ulong)Data.Length, "data");

    protected internal override void CheckAfterRange(StepReader step) => KernelRequester.Check(step, At, Requester);

    public override KernelResult Execute(OpContext context) => KernelRequester.NoTdxModule(context, Requester) ? Outcome.Error(Errno.ENODEV)
        : Requester == "kvm" ? context.KvmCopy(context.WriteBuffer(Data), toGuest: true)
        : context.FrameAccess(context.WriteBuffer(Data), write: true, KernelRequester.Of(Requester));
}

/// <summary>The <c>requester</c> extension of kernel.read and kernel.write.</summary>
internal static class KernelRequester
{
    public static readonly string[] Names = ["kernel", "seam", "kvm"];

    public static Requester Of(string? requester) => requester == "seam" ? Requester.Seam : Requester.HostKernel;

    /// <summary>"seam" on a platform without a TDX module (plain, mktme, sev-snp): nobody to ask, so the request fails with ENODEV.</summary>
    public static bool NoTdxModule(OpContext context, string? requester) => requester == "seam" && !context.Kernel.Memory.HasSeam;

    /// <summary>The TDX module and KVM act on a VM's memory, so they need vm + gpa, not a bare pfn.</summary>
    public static void Check(StepReader step, StepAddress at, string? requester)
    {
        if (at.Pfn is not null && requester is "seam" or "kvm")
            throw step.Fail(null, $"{step.What} with \"requester\": \"{requester}\" needs \"vm\" and \"gpa\" instead of \"pfn\" (it acts on that VM's memory)");
    }
}
