using CsCheck;
using Vmm.Abstractions;
using Vmm.Plugins.SevSnp.Tests.Infrastructure;

namespace Vmm.Plugins.SevSnp.Tests.Rmp;

/// <summary>
/// Model-based: random sequences of assignments (4K and 2 MiB), guest reads and writes, host, kernel and device
/// reads and writes (through 4K and 2 MiB mappings), conversions (with their PSMASH) and frees behind the guest's
/// back, on four frames of one 2 MiB run. Checked at every step: no host read ever returns a plaintext the guest
/// wrote, no host write to an assigned page goes through, and the guest reads its data or detects the change (#VC).
/// </summary>
public sealed class RmpModelTests
{
    private const int Frames = 4;
    private const ulong Head = 512;

    public enum OpKind { Assign, AssignHuge, GuestWrite, GuestRead, HostWrite, HostRead, Convert, Free }

    public readonly record struct Op(OpKind Kind, int Frame, int Seed, Requester Requester, bool Huge)
    {
        public override string ToString() => Kind switch
        {
            OpKind.GuestWrite => $"GuestWrite({Frame}, #{Seed})",
            OpKind.HostWrite => $"HostWrite({Frame}, #{Seed}, {Requester}{(Huge ? ", 2M" : "")})",
            OpKind.HostRead => $"HostRead({Frame}, {Requester})",
            _ => $"{Kind}({Frame})",
        };
    }

    private static readonly Gen<Op> GenOp =
        from kind in Gen.Enum<OpKind>()
        from frame in Gen.Int[0, Frames - 1]
        from seed in Gen.Int[1, 100]
        from requester in Gen.OneOfConst(Requester.HostUser, Requester.HostKernel, Requester.Device)
        from huge in Gen.Bool
        select new Op(kind, frame, seed, requester, huge);

    [Fact]
    public void HostNeverReadsGuestPlaintext_NorWritesAnAssignedPageUndetected()
    {
        GenOp.Array[1, 50].Sample(Run, iter: 1000, threads: 1, print: ops => string.Join(", ", ops));
    }

    private sealed class Model
    {
        public readonly bool[] Assigned = new bool[Frames];
        public readonly bool[] Validated = new bool[Frames];
        /// <summary>The guest believes it validated the gfn (it did, and did not rescind).</summary>
        public readonly bool[] GuestValidated = new bool[Frames];
        public readonly byte[][] Guest = Enumerable.Range(0, Frames).Select(_ => new byte[16]).ToArray();
        public readonly byte[][] Host = Enumerable.Range(0, Frames).Select(_ => new byte[16]).ToArray();
        /// <summary>The other 508 frames of the run are assigned (by a 2 MiB entry).</summary>
        public bool OthersAssigned;
        public bool OthersValidated;
        public bool AnyAssigned => OthersAssigned || Assigned.Any(a => a);
    }

    private static void Run(Op[] ops)
    {
        var rig = new SnpRig();
        var model = new Model();
        var written = new List<byte[]>();
        var buffer = new byte[16];
        foreach (var op in ops)
        {
            var i = op.Frame;
            var pfn = Head + (ulong)i;
            switch (op.Kind)
            {
                case OpKind.Assign when !model.Assigned[i]:
                    Assert.Equal(GuestPageAssigned.Page, rig.Assign(pfn));
                    model.Assigned[i] = true;
                    model.Validated[i] = !model.GuestValidated[i];
                    model.GuestValidated[i] = true;
                    model.Guest[i] = new byte[16];
                    break;
                case OpKind.AssignHuge when !model.AnyAssigned:
                    Assert.Equal(GuestPageAssigned.HugeRange, rig.Assign(pfn, MappingSize.Size2M, rangePrivate: true));
                    var validated = !model.GuestValidated.Any(v => v) && !model.OthersValidated;
                    model.OthersAssigned = true;
                    model.OthersValidated |= validated;
                    for (var f = 0; f < Frames; f++)
                    {
                        model.Assigned[f] = true;
                        model.Validated[f] = validated;
                        model.GuestValidated[f] |= validated;
                        model.Guest[f] = new byte[16];
                    }
                    break;
                case OpKind.GuestWrite:
                {
                    var data = SnpRig.Data(op.Seed);
                    var result = rig.GuestWrite(pfn, 0, data);
                    if (model.Assigned[i] && model.Validated[i])
                    {
                        Assert.True(result.IsOk, $"{op}: {result}");
                        model.Guest[i] = data;
                        written.Add(data);
                    }
                    else Assert.Equal(MemStatus.ValidationFault, result.Status);
                    break;
                }
                case OpKind.GuestRead:
                {
                    var result = rig.GuestRead(pfn, 0, buffer);
                    if (model.Assigned[i] && model.Validated[i])
                    {
                        Assert.True(result.IsOk, $"{op}: {result}");
                        Assert.Equal(model.Guest[i], buffer);
                    }
                    else Assert.Equal(MemStatus.ValidationFault, result.Status);
                    break;
                }
                case OpKind.HostWrite:
                {
                    var data = SnpRig.Data(op.Seed + 100); // host seeds 101-200, guest seeds 1-100: the patterns never coincide
                    var result = rig.HostWrite(pfn, 0, data, op.Requester, op.Huge ? AccessFlags.HugeMapping : AccessFlags.None);
                    var blocked = model.Assigned[i] || (op.Huge && op.Requester == Requester.HostUser && model.AnyAssigned);
                    if (blocked) Assert.True(result.Status == MemStatus.AccessFault, $"{op} to an assigned page went through: {result}");
                    else
                    {
                        Assert.True(result.IsOk, $"{op}: {result}");
                        model.Host[i] = data;
                    }
                    break;
                }
                case OpKind.HostRead:
                {
                    Assert.True(rig.HostRead(pfn, 0, buffer, op.Requester).IsOk);
                    foreach (var plaintext in written)
                        Assert.False(buffer.AsSpan().SequenceEqual(plaintext), $"{op} read guest plaintext {Convert.ToHexString(plaintext)}");
                    if (!model.Assigned[i]) Assert.Equal(model.Host[i], buffer);
                    break;
                }
                case OpKind.Convert:
                    rig.ConvertToShared(pfn);
                    model.GuestValidated[i] = false;
                    Drop(model, i);
                    break;
                case OpKind.Free:
                    rig.Free(pfn);
                    Drop(model, i);
                    break;
            }
        }
    }

    private static void Drop(Model model, int i)
    {
        // Reinitialize or a free leaves zeros; a 2 MiB entry was PSMASHed and its other pages stay assigned.
        model.Assigned[i] = false;
        model.Validated[i] = false;
        model.Guest[i] = new byte[16];
        model.Host[i] = new byte[16];
    }
}
