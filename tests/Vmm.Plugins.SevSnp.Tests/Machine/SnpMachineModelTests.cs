using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.SevSnp.Tests.Infrastructure;

namespace Vmm.Plugins.SevSnp.Tests.Machine;

/// <summary>
/// Model-based, on a whole host (policy none, anon memory): random guest writes and reads, VMM, kernel and device
/// reads and writes, conversions and MADV_DONTNEED on four pages. No host read ever returns what the guest wrote
/// privately, and a private guest read that succeeds returns the guest's own last write or zeros: a host write
/// that reached an assigned page unnoticed would show there.
/// </summary>
public sealed class SnpMachineModelTests
{
    private const int Pages = 4;

    public enum OpKind { GuestWrite, GuestRead, HostWrite, HostRead, KernelWrite, KernelRead, DmaWrite, DmaRead, ToShared, ToPrivate, DontNeed }

    public readonly record struct Op(OpKind Kind, int Page, int Seed)
    {
        public override string ToString() => $"{Kind}(page {Page}, #{Seed})";
    }

    private static readonly Gen<Op> GenOp =
        from kind in Gen.Enum<OpKind>()
        from page in Gen.Int[0, Pages - 1]
        from seed in Gen.Int[1, 100]
        select new Op(kind, page, seed);

    [Fact]
    public void HostNeverSeesGuestPlaintext_AndTheGuestNeverSeesAnUnnoticedHostWrite()
    {
        GenOp.Array[1, 30].Sample(Run, iter: 150, threads: 1, print: ops => string.Join(", ", ops));
    }

    private static void Run(Op[] ops)
    {
        var simulation = SnpMachine.Create(new LinuxFaultDelivery());
        var privateWrites = new List<byte[]>();
        var expected = Enumerable.Range(0, Pages).Select(_ => new byte[16]).ToArray();
        // The page's frame is the guest's (it accessed it privately since the last conversion to shared or discard).
        var taken = new bool[Pages];
        foreach (var op in ops)
        {
            var gpa = (ulong)(op.Page + 1) * PageGeometry.PageSize;
            // Guest seeds 1-100, host seeds 101-200: SnpRig.Data never gives two of them the same bytes.
            var guestData = SnpRig.Data(op.Seed);
            var hostData = SnpRig.Data(op.Seed + 100);
            Outcome outcome;
            switch (op.Kind)
            {
                case OpKind.GuestWrite:
                    outcome = simulation.Execute(SnpMachine.GuestWrite(gpa, guestData));
                    if (outcome.Kind == OutcomeKind.Ok)
                    {
                        privateWrites.Add(guestData);
                        expected[op.Page] = guestData;
                        taken[op.Page] = true;
                    }
                    break;
                case OpKind.GuestRead:
                    outcome = simulation.Execute(SnpMachine.GuestRead(gpa, 16));
                    if (outcome is { Kind: OutcomeKind.Ok, Data: { } read })
                    {
                        Assert.True(read.AsSpan().SequenceEqual(expected[op.Page]) || read.All(b => b == 0), $"{op}: the guest read {System.Convert.ToHexString(read)}, not its own data");
                        taken[op.Page] = true;
                    }
                    break;
                case OpKind.HostWrite:
                    outcome = simulation.Execute(SnpMachine.HostWrite(gpa, hostData));
                    break;
                case OpKind.KernelWrite:
                    outcome = simulation.Execute(SnpMachine.KernelWrite(gpa, hostData));
                    break;
                case OpKind.DmaWrite:
                    outcome = simulation.Execute(SnpMachine.DmaWrite(gpa, hostData));
                    break;
                case OpKind.HostRead or OpKind.KernelRead or OpKind.DmaRead:
                    outcome = simulation.Execute(op.Kind switch
                    {
                        OpKind.HostRead => SnpMachine.HostReadOf(gpa, 16),
                        OpKind.KernelRead => SnpMachine.KernelRead(gpa, 16),
                        _ => SnpMachine.DmaRead(gpa, 16),
                    });
                    if (outcome.Kind == OutcomeKind.Ok)
                        foreach (var plaintext in privateWrites)
                            Assert.False(outcome.Data!.AsSpan().SequenceEqual(plaintext), $"{op} read the guest's plaintext {System.Convert.ToHexString(plaintext)}");
                    break;
                case OpKind.ToShared or OpKind.ToPrivate:
                    outcome = simulation.Execute(SnpMachine.Convert(gpa, op.Kind == OpKind.ToPrivate));
                    // Private to private keeps the guest's page; every other conversion leaves it nothing.
                    if (op.Kind == OpKind.ToShared || !taken[op.Page]) Forget(op.Page);
                    break;
                default:
                    outcome = simulation.Execute(SnpMachine.Madvise(gpa, "DONTNEED"));
                    Forget(op.Page);
                    break;
            }
            if (outcome.EndsMachine) return;
        }

        void Forget(int page)
        {
            expected[page] = new byte[16];
            taken[page] = false;
        }
    }
}
