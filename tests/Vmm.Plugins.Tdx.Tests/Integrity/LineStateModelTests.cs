using CsCheck;
using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Integrity;

/// <summary>
/// Model-based: random sequences of TD and host accesses, bit flips and re-initialisations on a few lines
/// of one frame, checked step by step against a per-line model of H3–H6 and H10 (owner bit, poison, data; a host's
/// partial write merges into the zeros its KeyID reads of a TD-owned line).
/// </summary>
public sealed class LineStateModelTests
{
    private const int Lines = 3;

    public enum OpKind { TdWrite, HostWrite, TdRead, HostRead, Flip, ReinitPrivate, ReinitShared }

    public readonly record struct Op(OpKind Kind, int Line, int Offset, int Length, byte Value, int Bit)
    {
        public override string ToString() => Kind switch
        {
            OpKind.TdWrite or OpKind.HostWrite => $"{Kind}(line {Line}, +{Offset}, {Length} × 0x{Value:x2})",
            OpKind.TdRead or OpKind.HostRead => $"{Kind}(line {Line}, +{Offset}, {Length})",
            OpKind.Flip => $"Flip(line {Line}, bit {Bit})",
            _ => Kind.ToString(),
        };
    }

    private static readonly Gen<Op> GenOp =
        from kind in Gen.Enum<OpKind>()
        from line in Gen.Int[0, Lines - 1]
        from offset in Gen.Int[0, PageGeometry.LineSize - 1]
        from length in Gen.Int[1, PageGeometry.LineSize]
        from value in Gen.Byte[1, 255]
        from bit in Gen.Int[0, PageGeometry.LineSize * 8 - 1]
        select new Op(kind, line, offset, Math.Min(length, PageGeometry.LineSize - offset), value, bit);

    [Theory]
    [InlineData("tdx-li")]
    [InlineData("tdx-ci")]
    public void Controller_FollowsTheLineModel(string controller)
    {
        GenOp.Array[1, 40].Sample(ops => Run(controller, ops), iter: 500, threads: 1, print: ops => string.Join(", ", ops));
    }

    private sealed class LineModel
    {
        public byte[] Data = new byte[PageGeometry.LineSize];
        public bool Owner;
        public bool Poisoned;
        /// <summary>The data when the controller last wrote the line (and, under Ci, computed its MAC).</summary>
        public byte[] Written = new byte[PageGeometry.LineSize];
        /// <summary>A flip changed the line since it was written: Ci notices, Li does not.</summary>
        public bool Flipped => !Data.AsSpan().SequenceEqual(Written);
    }

    private static void Run(string controller, Op[] ops)
    {
        var ci = controller == "tdx-ci";
        var rig = ControllerRig.Create(controller);
        var pfn = rig.AcceptPage(1);
        var model = Enumerable.Range(0, Lines).Select(_ => new LineModel { Owner = true }).ToArray();
        var buffer = new byte[PageGeometry.LineSize];
        for (var step = 0; step < ops.Length; step++)
        {
            var op = ops[step];
            var m = model[op.Line];
            var offset = op.Line * PageGeometry.LineSize + op.Offset;
            var read = buffer.AsSpan(0, op.Length);
            switch (op.Kind)
            {
                case OpKind.TdWrite:
                case OpKind.HostWrite:
                {
                    var data = Enumerable.Repeat(op.Value, op.Length).ToArray();
                    var result = op.Kind == OpKind.TdWrite ? rig.VmWrite(pfn, offset, data) : rig.HostWrite(pfn, offset, data);
                    Assert.Equal(MemResult.Ok, result);
                    // A partial write is a read-modify-write with the writer's KeyID: the host's reads a TD-owned line as zeros (H4).
                    if (op.Kind == OpKind.HostWrite && m.Owner && op.Length < PageGeometry.LineSize) Array.Clear(m.Data);
                    data.CopyTo(m.Data, op.Offset);
                    m.Owner = op.Kind == OpKind.TdWrite;
                    m.Written = (byte[])m.Data.Clone();
                    if (op.Length == PageGeometry.LineSize) m.Poisoned = false;
                    break;
                }
                case OpKind.TdRead:
                {
                    var result = rig.VmRead(pfn, offset, read);
                    if (m.Poisoned) Assert.Equal(new MemResult(MemStatus.PoisonConsumed, op.Line), result);
                    else if (!m.Owner || (ci && m.Flipped))
                    {
                        Assert.Equal(new MemResult(MemStatus.IntegrityFailure, op.Line), result);
                        Assert.True(read.IndexOfAnyExcept((byte)0) < 0, $"step {step}: a failed read returns zeros");
                        m.Poisoned = true;
                    }
                    else
                    {
                        Assert.Equal(MemResult.Ok, result);
                        Assert.Equal(m.Data.AsSpan(op.Offset, op.Length).ToArray(), read.ToArray());
                    }
                    break;
                }
                case OpKind.HostRead:
                {
                    var result = rig.HostRead(pfn, offset, read);
                    if (m.Poisoned) Assert.Equal(new MemResult(MemStatus.PoisonConsumed, op.Line), result);
                    else
                    {
                        Assert.Equal(MemResult.Ok, result);
                        Assert.Equal(m.Owner ? new byte[op.Length] : m.Data.AsSpan(op.Offset, op.Length).ToArray(), read.ToArray());
                    }
                    break;
                }
                case OpKind.Flip:
                    rig.Controller.FlipBit(pfn, op.Line, op.Bit);
                    m.Data[op.Bit / 8] ^= (byte)(1 << (op.Bit % 8));
                    break;
                case OpKind.ReinitPrivate:
                case OpKind.ReinitShared:
                    rig.Controller.Reinitialize(pfn, op.Kind == OpKind.ReinitPrivate ? rig.VmKey : KeyId.Shared);
                    foreach (var line in model)
                    {
                        line.Data = new byte[PageGeometry.LineSize];
                        line.Owner = op.Kind == OpKind.ReinitPrivate;
                        line.Poisoned = false;
                        line.Written = new byte[PageGeometry.LineSize];
                    }
                    break;
            }
            for (var line = 0; line < Lines; line++)
            {
                Assert.Equal(model[line].Poisoned, rig.Controller.IsLinePoisoned(pfn, line));
                Assert.Equal(model[line].Owner, rig.Controller.IsLineOwned(pfn, line));
            }
        }
    }
}
