using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>guest.convert</c>: the guest asks for a range to become private or shared, as the policy handles it.</summary>
public sealed record GuestConvert(ulong Size, bool ToPrivate) : StepOp
{
    /// <summary>The values of <c>to</c>.</summary>
    public static IReadOnlyList<string> Targets { get; } = ["private", "shared"];

    public static OpDefinition Definition { get; } = new("guest.convert", OpAddressing.VmGpa, ["size", "to"], [],
        r => new GuestConvert(r.Size("size") ?? 0, r.OneOf("to", [.. Targets]) == "private"));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Size, "size");

    public override KernelResult Execute(OpContext context)
    {
        var vm = context.RequireVm();
        return context.Kernel.Kvm.Convert(vm, context.RequireGpa(vm), Size, ToPrivate);
    }
}

/// <summary><c>vmm.set-attributes</c>: KVM_SET_MEMORY_ATTRIBUTES.</summary>
public sealed record SetAttributes(ulong Size, bool Private) : StepOp
{
    public static OpDefinition Definition { get; } = new("vmm.set-attributes", OpAddressing.VmGpa, ["size", "private"], [],
        r => new SetAttributes(r.Size("size") ?? 0, r.Bool("private") ?? false));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Size, "size");

    public override KernelResult Execute(OpContext context)
    {
        var vm = context.RequireVm();
        var rc = context.Kernel.Kvm.SetAttributes(vm, context.RequireGpa(vm), Size, Private);
        return rc == 0 ? Outcome.Ok() : Outcome.Error(rc);
    }
}
