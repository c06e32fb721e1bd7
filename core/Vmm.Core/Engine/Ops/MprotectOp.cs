using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine.Ops;

/// <summary>
/// <c>host.mprotect</c> (extension): mprotect(2) on the VMM's mapping. <c>"prot": "guest"</c> is PROT_GUEST of the
/// May 2021 guest-only series: EINVAL unless the range is MAP_SHARED shmem; the range is zapped and becomes VM_GUEST.
/// </summary>
public sealed record Mprotect(ulong Size, string Prot) : StepOp
{
    /// <summary>The values of <c>prot</c>.</summary>
    public static IReadOnlyList<string> Prots { get; } = ["guest"];

    public static OpDefinition Definition { get; } = new("host.mprotect", OpAddressing.HvaOrVmGpa, ["size", "prot"], [],
        r => new Mprotect(r.Size("size") ?? 0, r.OneOf("prot", [.. Prots]) ?? ""));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Size, "size");

    public override KernelResult Execute(OpContext context) =>
        context.VmmAlive() ?? context.Kernel.Syscalls.MprotectGuest(context.Kernel.Vmm, context.HostAddress(), Size);
}
