using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>vm.destroy</c>: the VM is torn down and its memory freed.</summary>
public sealed record VmDestroy : StepOp
{
    public static OpDefinition Definition { get; } = new("vm.destroy", OpAddressing.Vm, [], [], _ => new VmDestroy());

    public override string Name => Definition.Name;

    public override KernelResult Execute(OpContext context)
    {
        context.Kernel.Kvm.DestroyVm(context.RequireVm());
        return Outcome.Ok();
    }
}
