using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Costs;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>device.dma-read</c>: a device reads guest memory by DMA.</summary>
public sealed record DmaRead(ulong Len) : StepOp
{
    public static OpDefinition Definition { get; } = new("device.dma-read", OpAddressing.VmGpa, ["len"], [], r => new DmaRead(r.Length("len") ?? 0));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Len, "len");

    public override KernelResult Execute(OpContext context)
    {
        context.Ledger.Add(CostKind.DmaTransfer);
        return context.FrameAccess(context.ReadBuffer(Len), write: false, Requester.Device);
    }
}

/// <summary><c>device.dma-write</c>: a device writes guest memory by DMA.</summary>
public sealed record DmaWrite(byte[] Data) : StepOp
{
    public static OpDefinition Definition { get; } = new("device.dma-write", OpAddressing.VmGpa, ["data"], [], r => new DmaWrite(r.Data("data") ?? []));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => ((ulong)Data.Length, "data");

    public override KernelResult Execute(OpContext context)
    {
        context.Ledger.Add(CostKind.DmaTransfer);
        return context.FrameAccess(context.WriteBuffer(Data), write: true, Requester.Device);
    }
}
